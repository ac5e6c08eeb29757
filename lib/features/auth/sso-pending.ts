import 'server-only';
import { hkdfSync } from 'node:crypto';
import { EncryptJWT, jwtDecrypt } from 'jose';
import { cookies } from 'next/headers';
import { z } from 'zod';
import { env } from '@/lib/platform/env';
import { secureCookies } from '@/lib/features/credentials/config';
import type { SsoIdentity } from '@/lib/features/auth/sso';

/**
 * Between the IdP's answer and the authenticator code (the IdP asserted no MFA, the account has
 * a local one), the verified identity waits in an encrypted, httpOnly cookie for five minutes:
 * no session exists yet, so nothing but the code step can use it.
 */
const COOKIE = 'vigil-sso-pending';
const LIFETIME_SECONDS = 5 * 60;

const pendingSchema = z.object({
  issuer: z.string(),
  subject: z.string(),
  email: z.string().nullable(),
  emailVerified: z.boolean(),
  name: z.string().nullable(),
  groups: z.array(z.string()),
  mfa: z.literal(false),
});

function key(): Uint8Array {
  const secret = env().AUTH_SECRET;
  if (!secret) throw new Error('AUTH_SECRET is not set.');
  return new Uint8Array(hkdfSync('sha256', secret, 'vigil', 'sso pending second factor', 32));
}

export async function holdForCode(identity: SsoIdentity): Promise<void> {
  const issuedAt = Math.floor(Date.now() / 1000);
  const token = await new EncryptJWT({ identity })
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + LIFETIME_SECONDS)
    .encrypt(key());
  (await cookies()).set(COOKIE, token, { httpOnly: true, sameSite: 'lax', secure: secureCookies(), path: '/', maxAge: LIFETIME_SECONDS });
}

/** The identity waiting for its code, or null (none, expired, or not ours). */
export async function heldForCode(): Promise<SsoIdentity | null> {
  const token = (await cookies()).get(COOKIE)?.value;
  if (!token) return null;
  try {
    const { payload } = await jwtDecrypt(token, key());
    const parsed = pendingSchema.safeParse(payload.identity);
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The code step is over either way: the next attempt starts at the IdP again. */
export async function releaseHeld(): Promise<void> {
  (await cookies()).delete(COOKIE);
}
