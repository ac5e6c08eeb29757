import 'server-only';
import { getDb } from '@/db/client';
import type { Viewer } from '@/lib/access/viewer';
import { recordAudit } from '@/lib/audit';
import { endSessionGrants } from '@/lib/break-glass/end';
import { revokeSession } from './sessions';

/** Ends the viewer's session on the server (the cookie alone is then worthless). */
export async function endSession(viewer: Viewer, reason: 'sign_out' | 'idle_timeout' = 'sign_out'): Promise<void> {
  const db = await getDb();
  await db.transaction(async (tx) => {
    await revokeSession(tx, viewer.sessionId, reason);
    await endSessionGrants(tx, viewer, viewer.sessionId, reason);
    await recordAudit(tx, {
      actor: viewer,
      action: reason === 'sign_out' ? 'auth.logout' : 'session.timeout',
      resourceType: 'session',
      resourceId: viewer.sessionId,
      outcome: 'allowed',
    });
  });
}
