import 'server-only';
import { and, eq, isNull, lt, or } from 'drizzle-orm';
import { generateSecret, generateURI, verify } from 'otplib';
import type { Queryable } from '@/db/client';
import { users } from '@/db/schema';
import { openUserSecret } from '@/lib/platform/crypto';
import { consumeRecoveryCode } from '@/lib/features/credentials/recovery-codes';

/** RFC 6238 defaults that every authenticator app understands: SHA-1, 6 digits, 30 s steps. */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_ISSUER = 'Vigil';

type UserRow = typeof users.$inferSelect;

export type SecondFactorResult =
  | { ok: true; method: 'totp' | 'recovery_code' }
  | { ok: false; reason: 'not_enrolled' | 'invalid' | 'replayed' };

const TOTP_FORMAT = /^\d{6}$/;
const compactCode = (code: string) => code.replace(/\s/g, '');

export function isTotpFormat(code: string): boolean {
  return TOTP_FORMAT.test(compactCode(code));
}

/** A new random TOTP secret (160 bits, base32) and the otpauth:// URI an authenticator scans. */
export function newTotpSecret(accountLabel: string): { secret: string; uri: string } {
  const secret = generateSecret();
  return { secret, uri: generateURI({ issuer: TOTP_ISSUER, label: accountLabel, secret }) };
}

/**
 * Checks a TOTP code against a secret at `at`, allowing one step of clock drift either way.
 * Returns the RFC 6238 time step the code belongs to, or null. Never throws on odd input.
 */
export async function matchTotp(secret: string, code: string, at: Date): Promise<number | null> {
  const token = compactCode(code);
  if (!TOTP_FORMAT.test(token)) return null;
  const result = await verify({ secret, token, epoch: Math.floor(at.getTime() / 1000), epochTolerance: TOTP_PERIOD_SECONDS });
  return result.valid && 'timeStep' in result ? result.timeStep : null;
}

/**
 * The second factor at sign-in or step-up: a TOTP code, or (when `allowRecoveryCode`) one of the
 * user's single-use recovery codes. A TOTP code whose time step was already used is refused, so an
 * observed code cannot be replayed; the step is claimed with a conditional update, so two
 * concurrent requests cannot both use it.
 */
export async function verifySecondFactor(
  q: Queryable,
  user: UserRow,
  code: string,
  at: Date,
  { allowRecoveryCode = true }: { allowRecoveryCode?: boolean } = {},
): Promise<SecondFactorResult> {
  if (!user.sealedTotpSecret || !user.totpEnabledAt) return { ok: false, reason: 'not_enrolled' };
  if (!isTotpFormat(code)) {
    if (allowRecoveryCode && (await consumeRecoveryCode(q, user.id, code, at))) return { ok: true, method: 'recovery_code' };
    return { ok: false, reason: 'invalid' };
  }
  const step = await matchTotp(openUserSecret(user.id, 'totp', user.sealedTotpSecret), code, at);
  if (step === null) return { ok: false, reason: 'invalid' };
  const claimed = await q
    .update(users)
    .set({ totpLastStep: step })
    .where(and(eq(users.id, user.id), or(isNull(users.totpLastStep), lt(users.totpLastStep, step))))
    .returning({ id: users.id });
  return claimed.length > 0 ? { ok: true, method: 'totp' } : { ok: false, reason: 'replayed' };
}
