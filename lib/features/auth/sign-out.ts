import 'server-only';
import { getDb } from '@/db/client';
import type { Viewer } from '@/lib/domain/access/viewer';
import { recordAudit } from '@/lib/platform/audit';
import { endSessionGrants } from '@/lib/features/break-glass/end';
import { revokeSession } from '@/lib/features/credentials/sessions';
import { auditActions } from '@/lib/domain/audit/actions';

/** Ends the viewer's session on the server (the cookie alone is then worthless). */
export async function endSession(viewer: Viewer, reason: 'sign_out' | 'idle_timeout' = 'sign_out'): Promise<void> {
  const db = await getDb();
  await db.transaction(async (tx) => {
    await revokeSession(tx, viewer.sessionId, reason);
    await endSessionGrants(tx, viewer, viewer.sessionId, reason);
    await recordAudit(tx, {
      actor: viewer,
      action: reason === 'sign_out' ? auditActions.auth.logout : auditActions.session.timeout,
      resourceType: 'session',
      resourceId: viewer.sessionId,
      outcome: 'allowed',
    });
  });
}
