import 'server-only';
import { and, count, eq, gt } from 'drizzle-orm';
import { z } from 'zod';
import { getDb, type Queryable } from '@/db/client';
import { loginAttempts, users } from '@/db/schema';
import { recordAudit, type AuditActor } from '@/lib/audit';
import { now as clockNow } from '@/lib/clock';
import { lockoutPolicy } from './config';
import { verifyPassword, verifyAgainstDummy } from './passwords';
import { createSession } from './sessions';
import { normaliseEmail } from './users';
import { verifySecondFactor } from './mfa';

export const credentialsSchema = z.object({
  email: z.string().trim().min(1, 'Enter your email and password.').max(254, 'That email address is too long.'),
  password: z.string().min(1, 'Enter your email and password.').max(1024, 'That password is too long.'),
  code: z
    .string()
    .trim()
    .max(32, 'That code is too long.')
    .optional()
    .transform((v) => (v ? v : undefined)),
});
export type Credentials = z.input<typeof credentialsSchema>;

export type LoginResult =
  | { ok: true; userId: string; sessionId: string }
  | { ok: false; reason: 'invalid' | 'mfa_required' | 'mfa_invalid' | 'throttled' | 'bad_input'; message: string };

/** One message for unknown email, wrong password, locked and disabled: nothing reveals which. */
export const INVALID_LOGIN_MESSAGE = 'The email or password is incorrect, or the account cannot sign in right now.';
const THROTTLED_MESSAGE = 'Too many sign-in attempts from this computer. Wait a few minutes and try again.';

interface Client {
  ip: string | null;
  userAgent: string | null;
}

/**
 * The whole password (+ code) sign-in: input check, per-IP throttle, constant-time-ish user
 * lookup, per-account lockout, second factor, session creation, and an audit entry for each
 * outcome. Returns a result; never throws for a user's mistake.
 */
export async function signInWithPassword(input: Credentials, client: Client): Promise<LoginResult> {
  const parsed = credentialsSchema.safeParse(input);
  if (!parsed.success) {
    return { ok: false, reason: 'bad_input', message: parsed.error.issues[0]?.message ?? INVALID_LOGIN_MESSAGE };
  }
  const { email, password, code } = parsed.data;
  const db = await getDb();
  const at = clockNow();
  const actor: AuditActor = { userId: null, ip: client.ip, userAgent: client.userAgent };

  if (client.ip && (await recentIpFailures(db, client.ip, at)) >= lockoutPolicy.ipMaxFailures) {
    await db.transaction((tx) =>
      recordAudit(tx, { actor, action: 'auth.login', resourceType: 'session', outcome: 'denied', details: { reason: 'ip_throttled' } }),
    );
    return { ok: false, reason: 'throttled', message: THROTTLED_MESSAGE };
  }

  const [user] = await db.select().from(users).where(eq(users.email, normaliseEmail(email))).limit(1);
  const passwordOk = user ? await verifyPassword(user.passwordHash, password) : await verifyAgainstDummy(password);
  const locked = Boolean(user?.lockedUntil && user.lockedUntil > at);

  if (!user || !passwordOk || locked || user.disabledAt) {
    await db.transaction(async (tx) => {
      await tx.insert(loginAttempts).values({ ip: client.ip ?? 'unknown', userId: user?.id ?? null, succeeded: false, attemptedAt: at });
      const reason = !user ? 'unknown_user' : user.disabledAt ? 'disabled' : locked ? 'locked' : 'bad_password';
      await recordAudit(tx, { actor: { ...actor, userId: user?.id ?? null }, action: 'auth.login', resourceType: 'session', outcome: 'denied', details: { reason } });
      if (user && !passwordOk && !locked) await countFailure(tx, user.id, user.failedLogins + 1, actor, at);
    });
    return { ok: false, reason: 'invalid', message: INVALID_LOGIN_MESSAGE };
  }

  if (user.totpEnabledAt) {
    if (!code) return { ok: false, reason: 'mfa_required', message: 'Enter the 6-digit code from your authenticator app.' };
    const factor = await verifySecondFactor(db, user, code, at);
    if (!factor.ok) {
      await db.transaction(async (tx) => {
        await tx.insert(loginAttempts).values({ ip: client.ip ?? 'unknown', userId: user.id, succeeded: false, attemptedAt: at });
        await recordAudit(tx, { actor: { ...actor, userId: user.id }, action: 'auth.mfa', resourceType: 'session', outcome: 'denied', details: { reason: factor.reason } });
        await countFailure(tx, user.id, user.failedLogins + 1, actor, at);
      });
      return { ok: false, reason: 'mfa_invalid', message: 'That code did not work. Enter a new code from your authenticator app.' };
    }
  }

  const session = await db.transaction(async (tx) => {
    await tx.update(users).set({ failedLogins: 0, lockedUntil: null }).where(eq(users.id, user.id));
    await tx.insert(loginAttempts).values({ ip: client.ip ?? 'unknown', userId: user.id, succeeded: true, attemptedAt: at });
    const created = await createSession(tx, user.id, client, at);
    await recordAudit(tx, {
      actor: { ...actor, userId: user.id },
      action: 'auth.login',
      resourceType: 'session',
      resourceId: created.id,
      outcome: 'allowed',
      details: { mfa: Boolean(user.totpEnabledAt) },
    });
    return created;
  });
  return { ok: true, userId: user.id, sessionId: session.id };
}

async function recentIpFailures(q: Queryable, ip: string, at: Date): Promise<number> {
  const since = new Date(at.getTime() - lockoutPolicy.ipWindowMs);
  const [row] = await q
    .select({ n: count() })
    .from(loginAttempts)
    .where(and(eq(loginAttempts.ip, ip), eq(loginAttempts.succeeded, false), gt(loginAttempts.attemptedAt, since)));
  return row?.n ?? 0;
}

/** After maxFailures in a row the account locks for lockMs, then the count starts again. */
async function countFailure(q: Queryable, userId: string, failures: number, actor: AuditActor, at: Date): Promise<void> {
  if (failures < lockoutPolicy.maxFailures) {
    await q.update(users).set({ failedLogins: failures }).where(eq(users.id, userId));
    return;
  }
  await q
    .update(users)
    .set({ failedLogins: 0, lockedUntil: new Date(at.getTime() + lockoutPolicy.lockMs) })
    .where(eq(users.id, userId));
  // recordAudit needs a transaction; countFailure is always called inside one.
  await recordAudit(q as Parameters<typeof recordAudit>[0], {
    actor: { ...actor, userId },
    action: 'auth.lockout',
    resourceType: 'user',
    resourceId: userId,
    outcome: 'denied',
    details: { failures, lockMinutes: lockoutPolicy.lockMs / 60_000 },
  });
}
