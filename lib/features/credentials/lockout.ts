import 'server-only';
import { and, count, eq, gt, lte, sql } from 'drizzle-orm';
import type { Queryable, Tx } from '@/db/client';
import { loginAttempts, users } from '@/db/schema';
import { recordAudit, type AuditActor } from '@/lib/platform/audit';
import { lockoutPolicy } from '@/lib/features/credentials/config';
import { auditActions } from '@/lib/domain/audit/actions';

/** The policy itself is documented beside its numbers, in ./config.ts (lockoutPolicy). */

export function isLocked(user: { lockedUntil: Date | null }, at: Date): boolean {
  return Boolean(user.lockedUntil && user.lockedUntil > at);
}

/**
 * Failed sign-ins from one address inside the sliding window. Attempts stamped after `at` are
 * ignored: they exist only when a test moved the clock forward and back again.
 */
export async function recentIpFailures(q: Queryable, ip: string, at: Date): Promise<number> {
  const since = new Date(at.getTime() - lockoutPolicy.ipWindowMs);
  const [row] = await q
    .select({ n: count() })
    .from(loginAttempts)
    .where(and(eq(loginAttempts.ip, ip), eq(loginAttempts.succeeded, false), gt(loginAttempts.attemptedAt, since), lte(loginAttempts.attemptedAt, at)));
  return row?.n ?? 0;
}

export function ipThrottled(failures: number): boolean {
  return failures >= lockoutPolicy.ipMaxFailures;
}

/**
 * Counts one more consecutive failure against an account; the maxFailures-th locks it for lockMs
 * and restarts the count. The increment happens in SQL so concurrent guesses cannot both read
 * the same count and slip past the limit.
 */
export async function countAccountFailure(tx: Tx, userId: string, actor: AuditActor, at: Date): Promise<{ locked: boolean }> {
  const [row] = await tx
    .update(users)
    .set({ failedLogins: sql`${users.failedLogins} + 1` })
    .where(eq(users.id, userId))
    .returning({ failures: users.failedLogins });
  const failures = row?.failures ?? 0;
  if (failures < lockoutPolicy.maxFailures) return { locked: false };
  await tx
    .update(users)
    .set({ failedLogins: 0, lockedUntil: new Date(at.getTime() + lockoutPolicy.lockMs) })
    .where(eq(users.id, userId));
  await recordAudit(tx, {
    actor: { ...actor, userId },
    action: auditActions.auth.lockout,
    resourceType: 'user',
    resourceId: userId,
    outcome: 'denied',
    details: { failures, lockMinutes: lockoutPolicy.lockMs / 60_000 },
  });
  return { locked: true };
}

/** A successful sign-in forgets earlier failures (NIST 800-63B: consecutive failures). */
export async function clearAccountFailures(tx: Tx, userId: string): Promise<void> {
  await tx.update(users).set({ failedLogins: 0, lockedUntil: null }).where(eq(users.id, userId));
}

export async function recordAttempt(tx: Tx, ip: string | null, userId: string | null, succeeded: boolean, at: Date): Promise<void> {
  await tx.insert(loginAttempts).values({ ip: ip ?? 'unknown', userId, succeeded, attemptedAt: at });
}
