import 'server-only';
import { and, gt, inArray, isNull } from 'drizzle-orm';
import type { Tx } from '@/db/client';
import { breakGlassGrants } from '@/db/schema';
import { auditActions } from '@/lib/domain/audit/actions';
import { recordAudit, type AuditActor } from '@/lib/platform/audit';
import { updateWithMac } from '@/lib/platform/integrity';

/**
 * A break-glass grant counts only for the session that made it (lib/pipeline/relationship.ts), so
 * whenever a session ends — sign-out, Auth.js's own sign-out route, idle or absolute timeout,
 * disabling, a changed password or factor, a monitoring incident — its live grants end with it,
 * in the transaction that ends the session, and each ending is recorded under the grant. The
 * reviewer's queue then says when and why, never "active" for a grant nobody can use any more.
 *
 * `by`: who ended the session (an admin disabling the account); by default the grant's holder.
 */
export async function endGrantsOfSessions(tx: Tx, sessionIds: string[], reason: string, at: Date, by?: AuditActor): Promise<number> {
  if (sessionIds.length === 0) return 0;
  const ended = await updateWithMac(tx, 'break_glass_grants', and(inArray(breakGlassGrants.sessionId, sessionIds), isNull(breakGlassGrants.endedAt), gt(breakGlassGrants.expiresAt, at)), {
    endedAt: at,
    endedReason: reason,
  });
  for (const grant of ended) {
    await recordAudit(tx, {
      actor: by ?? { userId: grant.userId },
      action: auditActions.breakGlass.end,
      resourceType: 'break_glass_grant',
      resourceId: grant.id,
      patientId: grant.patientId,
      outcome: 'allowed',
      breakGlassGrantId: grant.id,
      details: { reason },
    });
  }
  return ended.length;
}
