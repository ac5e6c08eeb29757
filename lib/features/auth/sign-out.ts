import 'server-only';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { sessions } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { recordAudit, type AuditActor } from '@/lib/platform/audit';
import { now as clockNow } from '@/lib/platform/clock';
import { isSessionId, revokeSession, signedInThroughIdp } from '@/lib/features/credentials/sessions';
import { auditActions } from '@/lib/domain/audit/actions';

/**
 * Ends the viewer's session on the server (the cookie alone is then worthless). Says whether the
 * hospital's identity provider signed that session in, so sign-out can offer to end that one too.
 */
export async function endSession(viewer: Viewer, reason: 'sign_out' | 'idle_timeout' = 'sign_out'): Promise<{ signedInThroughIdp: boolean }> {
  const db = await getDb();
  return db.transaction(async (tx) => {
    const [ended] = await tx.select({ method: sessions.signInMethod }).from(sessions).where(eq(sessions.id, viewer.sessionId)).limit(1);
    await revokeSession(tx, viewer.sessionId, reason, clockNow(), { by: viewer });
    await recordAudit(tx, {
      actor: viewer,
      action: reason === 'sign_out' ? auditActions.auth.logout : auditActions.session.timeout,
      resourceType: 'session',
      resourceId: viewer.sessionId,
      outcome: 'allowed',
    });
    return { signedInThroughIdp: signedInThroughIdp(ended?.method ?? 'password') };
  });
}

/**
 * Auth.js's own sign-out route: the session its cookie named ends on the server too (with its
 * grants), recorded once. Nothing happens for a session already ended, e.g. by the portal's own
 * sign-out, which calls this route's sign-out after endSession.
 */
export async function endSessionById(sessionId: unknown, client: Omit<AuditActor, 'userId'>): Promise<void> {
  if (!isSessionId(sessionId)) return;
  const db = await getDb();
  await db.transaction(async (tx) => {
    const [row] = await tx.select({ userId: sessions.userId }).from(sessions).where(eq(sessions.id, sessionId)).limit(1);
    if (!row) return;
    const actor: AuditActor = { userId: row.userId, ...client };
    if (!(await revokeSession(tx, sessionId, 'sign_out', clockNow(), { by: actor }))) return;
    await recordAudit(tx, { actor, action: auditActions.auth.logout, resourceType: 'session', resourceId: sessionId, outcome: 'allowed', details: { via: 'auth_route' } });
  });
}
