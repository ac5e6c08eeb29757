import 'server-only';
import { eq } from 'drizzle-orm';
import { verify } from 'otplib';
import type { Queryable } from '@/db/client';
import { users } from '@/db/schema';
import { openUserSecret } from '@/lib/crypto';

export const TOTP_PERIOD_SECONDS = 30;

type UserRow = typeof users.$inferSelect;

/**
 * Checks a TOTP code (RFC 6238, ±1 step of clock drift) and refuses a code whose time step was
 * already used, so an observed code cannot be replayed.
 */
export async function verifySecondFactor(
  q: Queryable,
  user: UserRow,
  code: string,
  at: Date,
): Promise<{ ok: true } | { ok: false; reason: 'not_enrolled' | 'invalid' | 'replayed' }> {
  if (!user.sealedTotpSecret) return { ok: false, reason: 'not_enrolled' };
  const secret = openUserSecret(user.id, 'totp', user.sealedTotpSecret);
  const result = await verify({
    secret,
    token: code.replace(/\s/g, ''),
    epoch: Math.floor(at.getTime() / 1000),
    epochTolerance: TOTP_PERIOD_SECONDS,
  });
  if (!result.valid) return { ok: false, reason: 'invalid' };
  const step = Math.floor(at.getTime() / 1000 / TOTP_PERIOD_SECONDS) + (result.delta ?? 0);
  if (user.totpLastStep !== null && step <= user.totpLastStep) return { ok: false, reason: 'replayed' };
  await q.update(users).set({ totpLastStep: step }).where(eq(users.id, user.id));
  return { ok: true };
}
