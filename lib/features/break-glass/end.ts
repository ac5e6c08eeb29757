import 'server-only';
import { and, eq, gt, isNull } from 'drizzle-orm';
import type { Tx } from '@/db/client';
import { breakGlassGrants } from '@/db/schema';
import type { AuditActor } from '@/lib/platform/audit';
import { recordAudit } from '@/lib/platform/audit';
import { now as clockNow } from '@/lib/platform/clock';
import { auditActions } from '@/lib/domain/audit/actions';

/**
 * Ends the live grants of a session that is ending (sign-out, timeout), in the transaction that
 * ends it. Access already stops with the session, since a grant only counts for the session that
 * made it (lib/pipeline/relationship); this writes down when and why, for the reviewer and the chain.
 */
export async function endSessionGrants(tx: Tx, actor: AuditActor, sessionId: string, reason: string, at = clockNow()): Promise<number> {
  const ended = await tx
    .update(breakGlassGrants)
    .set({ endedAt: at, endedReason: reason })
    .where(and(eq(breakGlassGrants.sessionId, sessionId), isNull(breakGlassGrants.endedAt), gt(breakGlassGrants.expiresAt, at)))
    .returning({ id: breakGlassGrants.id, patientId: breakGlassGrants.patientId });
  for (const grant of ended) {
    await recordAudit(tx, {
      actor,
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
