import 'server-only';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { sessions, users } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { recordAudit } from '@/lib/platform/audit';
import { now as clockNow } from '@/lib/platform/clock';
import { sessionPolicy } from '@/lib/features/credentials/config';
import { countAccountFailure, isLocked } from '@/lib/features/credentials/lockout';
import { isTotpFormat, verifySecondFactor } from '@/lib/features/credentials/mfa';
import { verifyPassword } from '@/lib/features/credentials/passwords';
import type { StepUp } from '@/lib/pipeline/operation';
import { auditActions } from '@/lib/domain/audit/actions';

/**
 * Step-up authentication before sensitive actions (MFA changes, role changes, break-glass):
 * the viewer re-enters their password, or a current TOTP code when enrolled (recovery codes are
 * kept for signing in). Success stamps the session; both outcomes are audited, and failures count
 * towards the account lockout, so an unattended signed-in screen is no free password oracle.
 */
export async function confirmReauthentication(viewer: Viewer, secret: string, at = clockNow()): Promise<boolean> {
  if (!secret || secret.length > 1024) return false;
  const db = await getDb();
  const [user] = await db.select().from(users).where(eq(users.id, viewer.userId)).limit(1);
  if (!user || user.disabledAt) return false;
  const isCode = Boolean(user.totpEnabledAt) && isTotpFormat(secret);
  const locked = isLocked(user, at);
  const ok =
    !locked &&
    (isCode ? (await verifySecondFactor(db, user, secret, at, { allowRecoveryCode: false })).ok : await verifyPassword(user.passwordHash, secret));
  await db.transaction(async (tx) => {
    if (ok) await tx.update(sessions).set({ reauthenticatedAt: at }).where(eq(sessions.id, viewer.sessionId));
    else if (!locked) await countAccountFailure(tx, user.id, viewer, at);
    await recordAudit(tx, {
      actor: viewer,
      action: auditActions.auth.reauthenticate,
      resourceType: 'session',
      resourceId: viewer.sessionId,
      outcome: ok ? 'allowed' : 'denied',
      details: { method: isCode ? 'totp' : 'password', ...(locked ? { reason: 'locked' } : {}) },
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
  if (!row?.reauthenticatedAt) return false;
  const age = at.getTime() - row.reauthenticatedAt.getTime();
  return age >= 0 && age <= sessionPolicy.reauthWindowMs;
}

/** The step-up every operation that asks for a fresh password uses (lib/pipeline). */
export const passwordStepUp: StepUp = { confirm: confirmReauthentication, isFresh: isRecentlyReauthenticated };
