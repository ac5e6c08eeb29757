import 'server-only';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { getDb } from '@/db/client';
import { users } from '@/db/schema';
import { recordAudit, tallyRefusal, type AuditActor } from '@/lib/platform/audit';
import { now as clockNow } from '@/lib/platform/clock';
import { env } from '@/lib/platform/env';
import { intactRow } from '@/lib/platform/integrity';
import { clearAccountFailures, countAccountFailure, ipThrottled, isLocked, recentIpFailures, recordAttempt } from '@/lib/features/credentials/lockout';
import { verifySecondFactor } from '@/lib/features/credentials/mfa';
import { HASH_QUEUE_FULL, hashQueueFull, verifySignInPassword, waitLikeAHash } from '@/lib/features/credentials/passwords';
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

export type LoginFailureReason = 'invalid' | 'mfa_required' | 'mfa_invalid' | 'throttled' | 'busy' | 'passwords_off' | 'bad_input';
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
  busy: 'Sign-in is busy right now. Wait a moment and try again.',
  passwords_off: 'Sign-in with a Vigil password is switched off here. Use your hospital account.',
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
 * The whole password (+ code) sign-in: input check, per-IP throttle and the hash queue's bound
 * (both before any lookup), per-account lockout before any hash, a check that takes the same
 * time whether or not the account exists, second factor, a brand-new session (no fixation: any
 * session the browser held is ended). Success, lockouts and second-factor refusals are audited
 * one by one; refused sign-ins are tallied per address and interval (lib/platform/audit/refusals.ts)
 * so a flood adds one entry per source, not one per guess. Never throws for a user's mistake.
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

  const refused = (reason: string, accountId: string | null = null) =>
    tallyRefusal({ action: auditActions.auth.login, resourceType: 'session', source: client.ip, ip: client.ip, userAgent: client.userAgent, reason, accountId, at });

  // VIGIL_DISABLE_LOCAL_PASSWORDS: the hospital's IdP is the only way in; no lookup, no hash.
  if (env().VIGIL_DISABLE_LOCAL_PASSWORDS) {
    refused('passwords_off');
    return fail('passwords_off');
  }
  // The cheap checks come first: a throttled address or a full hash queue costs no lookup and no hash.
  if (client.ip && ipThrottled(await recentIpFailures(db, client.ip, at))) {
    refused('ip_throttled');
    return fail('throttled');
  }
  if (hashQueueFull()) {
    refused('busy');
    return fail('busy');
  }

  const [user] = await db.select().from(users).where(eq(users.email, normaliseEmail(email))).limit(1);
  // A row that fails its MAC (a copied password hash, a cleared disabled_at) signs nobody in.
  const blocked = !user ? 'unknown_user' : user.disabledAt || !(await intactRow(db, 'users', user)) ? 'disabled' : isLocked(user, at) ? 'locked' : null;
  // No hash for an account that cannot sign in anyway, only the same wait (see waitLikeAHash).
  const checked = !user || blocked ? await waitLikeAHash() : await verifySignInPassword(user.passwordHash, password);
  if (checked === HASH_QUEUE_FULL) {
    // The queue filled between the check above and this one: refused like any busy sign-in, uncounted.
    // Only a real account can meet this race, a tell limited to the moments the queue is saturated.
    refused('busy', user?.id ?? null);
    return fail('busy');
  }

  if (!user || blocked || !checked) {
    await db.transaction(async (tx) => {
      await recordAttempt(tx, client.ip, user?.id ?? null, false, at);
      if (user && !blocked) await countAccountFailure(tx, user.id, actor, at);
    });
    refused(blocked ?? 'bad_password', user?.id ?? null);
    return fail('invalid');
  }

  let method: 'password' | 'totp' | 'recovery_code' = 'password';
  if (user.totpEnabledAt) {
    if (!code) {
      // The right password without a code: the account's consecutive-failure count goes up as for
      // a wrong code (a real sign-in then clears it), so this answer is no unlimited oracle for a
      // guessed or stolen password.
      await db.transaction((tx) => countAccountFailure(tx, user.id, actor, at));
      return fail('mfa_required');
    }
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
    const created = await createSession(tx, user.id, client, at, method);
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
