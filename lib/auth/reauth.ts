import 'server-only';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { sessions, users } from '@/db/schema';
import type { Viewer } from '@/lib/access/viewer';
import { recordAudit } from '@/lib/audit';
import { now as clockNow } from '@/lib/clock';
import { sessionPolicy } from './config';
import { verifySecondFactor } from './mfa';
import { verifyPassword } from './passwords';

/**
 * Step-up authentication before sensitive actions (MFA changes, role changes, break-glass):
 * the viewer re-enters their password, or a TOTP code when enrolled. Success stamps the
 * session, and both outcomes are audited.
 */
export async function confirmReauthentication(viewer: Viewer, secret: string, at = clockNow()): Promise<boolean> {
  if (!secret || secret.length > 1024) return false;
  const db = await getDb();
  const [user] = await db.select().from(users).where(eq(users.id, viewer.userId)).limit(1);
  if (!user || user.disabledAt) return false;
  const isCode = /^\d{6}$/.test(secret.trim()) && Boolean(user.totpEnabledAt);
  const ok = isCode ? (await verifySecondFactor(db, user, secret.trim(), at)).ok : await verifyPassword(user.passwordHash, secret);
  await db.transaction(async (tx) => {
    if (ok) await tx.update(sessions).set({ reauthenticatedAt: at }).where(eq(sessions.id, viewer.sessionId));
    await recordAudit(tx, {
      actor: viewer,
      action: 'auth.reauthenticate',
      resourceType: 'session',
      resourceId: viewer.sessionId,
      outcome: ok ? 'allowed' : 'denied',
      details: { method: isCode ? 'totp' : 'password' },
    });
  });
  return ok;
}

/** True when the viewer re-entered a secret within the re-authentication window. */
export async function isRecentlyReauthenticated(viewer: Viewer, at = clockNow()): Promise<boolean> {
  const db = await getDb();
  const [row] = await db
    .select({ reauthenticatedAt: sessions.reauthenticatedAt })
    .from(sessions)
    .where(eq(sessions.id, viewer.sessionId))
    .limit(1);
  return Boolean(row?.reauthenticatedAt && at.getTime() - row.reauthenticatedAt.getTime() <= sessionPolicy.reauthWindowMs);
}
