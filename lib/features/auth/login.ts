import 'server-only';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { getDb } from '@/db/client';
import { users } from '@/db/schema';
import { recordAudit, type AuditActor } from '@/lib/platform/audit';
import { now as clockNow } from '@/lib/platform/clock';
import { clearAccountFailures, countAccountFailure, ipThrottled, isLocked, recentIpFailures, recordAttempt } from '@/lib/features/credentials/lockout';
import { verifySecondFactor } from '@/lib/features/credentials/mfa';
import { verifyAgainstDummy, verifyPassword } from '@/lib/features/credentials/passwords';
import { createSession, isSessionId, revokeSession } from '@/lib/features/credentials/sessions';
import { normaliseEmail } from '@/lib/features/credentials/users';
import { auditActions } from '@/lib/domain/audit/actions';

const MISSING_CREDENTIALS_MESSAGE = 'Enter your email and password.';

/**
 * The sign-in input as the server accepts it, whatever the browser did or did not check: a
 * crafted post can send anything, and every refusal is a plain message that never repeats it.
 */
export const credentialsSchema = z.object(
  {
    email: z.string({ error: MISSING_CREDENTIALS_MESSAGE }).trim().min(1, MISSING_CREDENTIALS_MESSAGE).max(254, 'That email address is too long.'),
    password: z.string({ error: MISSING_CREDENTIALS_MESSAGE }).min(1, MISSING_CREDENTIALS_MESSAGE).max(1024, 'That password is too long.'),
    code: z
      .string({ error: 'That code is not valid.' })
      .trim()
      .max(32, 'That code is too long.')
      .optional()
      .transform((v) => (v ? v : undefined)),
  },
  { error: MISSING_CREDENTIALS_MESSAGE },
);
export type Credentials = z.input<typeof credentialsSchema>;

export type LoginFailureReason = 'invalid' | 'mfa_required' | 'mfa_invalid' | 'throttled' | 'bad_input';
export type LoginResult =
  | { ok: true; userId: string; sessionId: string }
  | { ok: false; reason: LoginFailureReason; message: string };

/** One message for unknown email, wrong password, locked and disabled: nothing reveals which. */
export const INVALID_LOGIN_MESSAGE = 'The email or password is incorrect, or the account cannot sign in right now.';
export const LOGIN_MESSAGES: Record<Exclude<LoginFailureReason, 'bad_input'>, string> = {
  invalid: INVALID_LOGIN_MESSAGE,
  mfa_required: 'Enter the 6-digit code from your authenticator app, or a recovery code.',
  mfa_invalid: 'That code did not work. Enter a new code from your authenticator app, or a recovery code.',
  throttled: 'Too many sign-in attempts from this computer. Wait a few minutes and try again.',
};

interface Client {
  ip: string | null;
  userAgent: string | null;
}

export interface SignInOptions {
  /** The session this browser already held, if any: it is ended, never carried over. */
  replacesSessionId?: string | null;
  at?: Date;
}

/**
 * The whole password (+ code) sign-in: input check, per-IP throttle, user lookup that costs the
 * same whether or not the account exists, per-account lockout, second factor, a brand-new
 * session (no fixation: any session the browser held is ended), and an audit entry for each
 * outcome. Returns a result; never throws for a user's mistake.
 */
export async function signInWithPassword(input: Credentials, client: Client, options: SignInOptions = {}): Promise<LoginResult> {
  const parsed = credentialsSchema.safeParse(input);
  if (!parsed.success) {
    return { ok: false, reason: 'bad_input', message: parsed.error.issues[0]?.message ?? INVALID_LOGIN_MESSAGE };
  }
  const { email, password, code } = parsed.data;
  const db = await getDb();
  const at = options.at ?? clockNow();
  const actor: AuditActor = { userId: null, ip: client.ip, userAgent: client.userAgent };
  const fail = (reason: Exclude<LoginFailureReason, 'bad_input'>): LoginResult => ({ ok: false, reason, message: LOGIN_MESSAGES[reason] });

  if (client.ip && ipThrottled(await recentIpFailures(db, client.ip, at))) {
    await db.transaction((tx) =>
      recordAudit(tx, { actor, action: auditActions.auth.login, resourceType: 'session', outcome: 'denied', details: { reason: 'ip_throttled' } }),
    );
    return fail('throttled');
  }

  const [user] = await db.select().from(users).where(eq(users.email, normaliseEmail(email))).limit(1);
  const passwordOk = user ? await verifyPassword(user.passwordHash, password) : await verifyAgainstDummy(password);
  const locked = Boolean(user && isLocked(user, at));

  if (!user || !passwordOk || locked || user.disabledAt) {
    await db.transaction(async (tx) => {
      await recordAttempt(tx, client.ip, user?.id ?? null, false, at);
      const reason = !user ? 'unknown_user' : user.disabledAt ? 'disabled' : locked ? 'locked' : 'bad_password';
      await recordAudit(tx, { actor: { ...actor, userId: user?.id ?? null }, action: auditActions.auth.login, resourceType: 'session', outcome: 'denied', details: { reason } });
      if (user && !passwordOk && !locked && !user.disabledAt) await countAccountFailure(tx, user.id, actor, at);
    });
    return fail('invalid');
  }

  let method: 'password' | 'totp' | 'recovery_code' = 'password';
  if (user.totpEnabledAt) {
    if (!code) return fail('mfa_required');
    const factor = await verifySecondFactor(db, user, code, at);
    if (!factor.ok) {
      await db.transaction(async (tx) => {
        await recordAttempt(tx, client.ip, user.id, false, at);
        await recordAudit(tx, { actor: { ...actor, userId: user.id }, action: auditActions.auth.mfa, resourceType: 'session', outcome: 'denied', details: { reason: factor.reason } });
        await countAccountFailure(tx, user.id, actor, at);
      });
      return fail('mfa_invalid');
    }
    method = factor.method;
  }

  const session = await db.transaction(async (tx) => {
    await clearAccountFailures(tx, user.id);
    await recordAttempt(tx, client.ip, user.id, true, at);
    const previous = options.replacesSessionId;
    const replaced = isSessionId(previous) ? await revokeSession(tx, previous, 'replaced_by_sign_in', at) : false;
    const created = await createSession(tx, user.id, client, at);
    await recordAudit(tx, {
      actor: { ...actor, userId: user.id },
      action: auditActions.auth.login,
      resourceType: 'session',
      resourceId: created.id,
      outcome: 'allowed',
      details: { mfa: method !== 'password', method, replacedSession: replaced },
    });
    return created;
  });
  return { ok: true, userId: user.id, sessionId: session.id };
}
