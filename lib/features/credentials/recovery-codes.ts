import 'server-only';
import { createHash, randomBytes } from 'node:crypto';
import { and, count, eq, isNull } from 'drizzle-orm';
import type { Queryable } from '@/db/client';
import { recoveryCodes } from '@/db/schema';

export const RECOVERY_CODE_COUNT = 10;

/** RFC 4648 base32 in lower case: no 0/1/8/9, so nothing to confuse with o, l or b. */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const CODE_CHARS = 12; // 60 random bits per code

/** Codes as shown to the user once: `xxxx-xxxx-xxxx`. */
export function generateRecoveryCodes(n = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: n }, () => {
    const bytes = randomBytes(CODE_CHARS);
    const chars = Array.from(bytes, (b) => ALPHABET[b & 31]).join('');
    return chars.match(/.{4}/g)!.join('-');
  });
}

/** Case, spaces and dashes do not matter when typing a code back; null if it cannot be one. */
export function normaliseRecoveryCode(input: string): string | null {
  const compact = input.toLowerCase().replace(/[\s-]/g, '');
  return new RegExp(`^[${ALPHABET}]{${CODE_CHARS}}$`).test(compact) ? compact : null;
}

/**
 * Stored as SHA-256 over the user id and the code. A fast hash suffices for 60 random bits
 * (unlike a password, nothing here is guessable); the user id keeps one table of guesses from
 * serving every account.
 */
export function hashRecoveryCode(userId: string, normalised: string): string {
  return createHash('sha256').update(`vigil-recovery-code:${userId}:${normalised}`).digest('hex');
}

/** Replaces a user's codes with a fresh set and returns the plain codes (to show once). */
export async function replaceRecoveryCodes(q: Queryable, userId: string): Promise<string[]> {
  const codes = generateRecoveryCodes();
  await q.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
  await q.insert(recoveryCodes).values(codes.map((code) => ({ userId, codeHash: hashRecoveryCode(userId, normaliseRecoveryCode(code)!) })));
  return codes;
}

export async function deleteRecoveryCodes(q: Queryable, userId: string): Promise<void> {
  await q.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
}

/** Spends a code: true once per code, in one statement, so two requests cannot both use it. */
export async function consumeRecoveryCode(q: Queryable, userId: string, input: string, at: Date): Promise<boolean> {
  const normalised = normaliseRecoveryCode(input);
  if (!normalised) return false;
  const used = await q
    .update(recoveryCodes)
    .set({ usedAt: at })
    .where(and(eq(recoveryCodes.userId, userId), eq(recoveryCodes.codeHash, hashRecoveryCode(userId, normalised)), isNull(recoveryCodes.usedAt)))
    .returning({ id: recoveryCodes.id });
  return used.length > 0;
}

export async function countUnusedRecoveryCodes(q: Queryable, userId: string): Promise<number> {
  const [row] = await q
    .select({ n: count() })
    .from(recoveryCodes)
    .where(and(eq(recoveryCodes.userId, userId), isNull(recoveryCodes.usedAt)));
  return row?.n ?? 0;
}
