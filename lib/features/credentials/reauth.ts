import 'server-only';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { sessions, users } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { recordAudit } from '@/lib/platform/audit';
import { intactRow, macColumns, updateWithMac } from '@/lib/platform/integrity';
import { now as clockNow } from '@/lib/platform/clock';
import { sessionPolicy } from '@/lib/features/credentials/config';
import { countAccountFailure, isLocked } from '@/lib/features/credentials/lockout';
import { isTotpFormat, verifySecondFactor } from '@/lib/features/credentials/mfa';
import { verifyPassword } from '@/lib/features/credentials/passwords';
import { normaliseRecoveryCode } from '@/lib/features/credentials/recovery-codes';
import type { StepUp } from '@/lib/pipeline/operation';
import { auditActions } from '@/lib/domain/audit/actions';

/**
 * Step-up authentication before sensitive actions (role changes, break-glass): the viewer
 * re-enters their password, or a current TOTP code when enrolled. Success stamps the session;
 * both outcomes are audited, and failures count towards the account lockout, so an unattended
 * signed-in screen is no free password oracle.
 *
 * `factor`: the step-up before a change to the second factor itself. An enrolled viewer must
 * prove the factor — a current code, or a recovery code when the authenticator is lost — and the
 * password is refused: a stolen password must not be enough to replace the victim's
 * authenticator. A viewer without one confirms with the password, as there is nothing else.
 */
export async function confirmReauthentication(viewer: Viewer, secret: string, at = clockNow(), { factor = false }: { factor?: boolean } = {}): Promise<boolean> {
  if (!secret || secret.length > 1024) return false;
  const db = await getDb();
  const [user] = await db.select().from(users).where(eq(users.id, viewer.userId)).limit(1);
  if (!user || user.disabledAt || !(await intactRow(db, 'users', user))) return false;
  const enrolled = Boolean(user.totpEnabledAt);
  const isCode = enrolled && (isTotpFormat(secret) || (factor && normaliseRecoveryCode(secret) !== null));
  const locked = isLocked(user, at);
  const passwordRefused = factor && enrolled && !isCode;
  const verified = locked || passwordRefused ? null : isCode ? await verifySecondFactor(db, user, secret, at, { allowRecoveryCode: factor }) : null;
  const ok = !locked && !passwordRefused && (isCode ? Boolean(verified?.ok) : await verifyPassword(user.passwordHash, secret));
  await db.transaction(async (tx) => {
    if (ok) await updateWithMac(tx, 'sessions', eq(sessions.id, viewer.sessionId), { reauthenticatedAt: at, ...(isCode ? { factorVerifiedAt: at } : {}) });
    else if (!locked) await countAccountFailure(tx, user.id, viewer, at);
    await recordAudit(tx, {
      actor: viewer,
      action: auditActions.auth.reauthenticate,
      resourceType: 'session',
      resourceId: viewer.sessionId,
      outcome: ok ? 'allowed' : 'denied',
      details: {
        method: verified?.ok ? verified.method : isCode ? 'totp' : 'password',
        ...(factor ? { factor: true } : {}),
        ...(locked ? { reason: 'locked' } : passwordRefused ? { reason: 'factor_required' } : {}),
      },
    });
  });
  return ok;
}

/** True when the viewer re-entered a secret within the re-authentication window. */
export async function isRecentlyReauthenticated(viewer: Viewer, at = clockNow()): Promise<boolean> {
  const db = await getDb();
  const [row] = await db.select(macColumns.sessions).from(sessions).where(eq(sessions.id, viewer.sessionId)).limit(1);
  if (!row?.reauthenticatedAt || !(await intactRow(db, 'sessions', row))) return false;
  const age = at.getTime() - row.reauthenticatedAt.getTime();
  return age >= 0 && age <= sessionPolicy.reauthWindowMs;
}

/**
 * True when the viewer may change their second factor now: an enrolled viewer proved the factor
 * within the re-authentication window; one without a factor re-entered their password.
 */
export async function isFactorRecentlyVerified(viewer: Viewer, at = clockNow()): Promise<boolean> {
  const db = await getDb();
  const [row] = await db
    .select({ session: macColumns.sessions, user: macColumns.users })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.id, viewer.sessionId))
    .limit(1);
  if (!row || !(await intactRow(db, 'sessions', row.session)) || !(await intactRow(db, 'users', row.user))) return false;
  const stamp = row.user.totpEnabledAt ? row.session.factorVerifiedAt : row.session.reauthenticatedAt;
  if (!stamp) return false;
  const age = at.getTime() - stamp.getTime();
  return age >= 0 && age <= sessionPolicy.reauthWindowMs;
}

/** The step-up every operation that asks for a fresh password uses (lib/pipeline). */
export const passwordStepUp: StepUp = { confirm: confirmReauthentication, isFresh: isRecentlyReauthenticated };

/** The step-up before changing or removing the second factor: the factor itself when there is one. */
export const factorStepUp: StepUp = {
  confirm: (viewer, secret, at) => confirmReauthentication(viewer, secret, at, { factor: true }),
  isFresh: isFactorRecentlyVerified,
};
