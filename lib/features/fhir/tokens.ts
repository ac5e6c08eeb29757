import 'server-only';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { EncryptJWT, jwtDecrypt, jwtVerify, SignJWT, errors } from 'jose';
import { z } from 'zod';
import { fhirResourceTypes, userResourceTypes } from '@/lib/domain/access/smart-scopes';
import { systemSubkey } from '@/lib/platform/crypto';

/**
 * SMART tokens, made and checked with `jose`. The access token is a short-lived HS256 JWT whose
 * `sid` binds it to the Vigil session that authorized the app: every API request re-checks that
 * session (signed out, idle, expired, user disabled → refused), so a token never outlives the
 * sign-in behind it. The authorization code is an encrypted JWT (A256GCM), single-use through the
 * trail (lib/features/fhir/authorize.ts), valid for one minute, and bound to its PKCE challenge,
 * client and redirect URI; an EHR launch's `launch` value is sealed the same way. The keys derive
 * from the system key and are never stored. Refresh tokens are random and stored hashed
 * (lib/features/fhir/refresh.ts).
 */
export const ACCESS_TOKEN_SECONDS = 300;
export const CODE_SECONDS = 60;

const accessKey = () => systemSubkey('smart-access-token');
const codeKey = () => systemSubkey('smart-authorization-code');
const types = z.array(z.enum(fhirResourceTypes));

export const tokenClaims = z.object({
  sub: z.uuid(),
  sid: z.string().min(1),
  client_id: z.string(),
  scope: z.string(),
  user_types: z.array(z.enum(userResourceTypes)),
  patient_types: types,
  /** Backend clients only: the `system/*` types; their patients and sections are the client's grant. */
  system_types: types.default([]),
  patient: z.string().nullable(),
});
export type TokenClaims = z.infer<typeof tokenClaims>;

export const codeClaims = tokenClaims.extend({
  jti: z.string(),
  redirect_uri: z.string(),
  code_challenge: z.string(),
  aud: z.string(),
  /** `offline_access` was granted: the exchange also issues a refresh token. */
  offline: z.boolean().default(false),
});
export type CodeClaims = z.infer<typeof codeClaims>;

/** An EHR launch from the chart: this user, in this sign-in, opened this app on this patient. */
export const launchClaims = z.object({ sub: z.uuid(), sid: z.string().min(1), client_id: z.string(), patient: z.uuid() });
export type LaunchClaims = z.infer<typeof launchClaims>;
export const LAUNCH_SECONDS = 300;
const launchKey = () => systemSubkey('smart-launch-context');

const seconds = (at: Date) => Math.floor(at.getTime() / 1000);

export async function issueAccessToken(claims: TokenClaims, audience: string, at: Date): Promise<string> {
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
    .setIssuer(audience)
    .setAudience(audience)
    .setIssuedAt(seconds(at))
    .setExpirationTime(seconds(at) + ACCESS_TOKEN_SECONDS)
    .setJti(randomUUID())
    .sign(accessKey());
}

export type TokenProblem = 'malformed' | 'expired' | 'wrong_audience' | 'bad_signature';

export async function verifyAccessToken(token: string, audience: string, at: Date): Promise<{ ok: true; claims: TokenClaims } | { ok: false; problem: TokenProblem }> {
  try {
    const { payload } = await jwtVerify(token, accessKey(), { algorithms: ['HS256'], issuer: audience, audience, currentDate: at, typ: 'at+jwt' });
    const parsed = tokenClaims.safeParse(payload);
    return parsed.success ? { ok: true, claims: parsed.data } : { ok: false, problem: 'malformed' };
  } catch (error) {
    if (error instanceof errors.JWTExpired) return { ok: false, problem: 'expired' };
    if (error instanceof errors.JWTClaimValidationFailed && (error.claim === 'aud' || error.claim === 'iss')) return { ok: false, problem: 'wrong_audience' };
    if (error instanceof errors.JWSSignatureVerificationFailed) return { ok: false, problem: 'bad_signature' };
    return { ok: false, problem: 'malformed' };
  }
}

/** An opaque value only this server can read: an encrypted JWT, valid `lifetime` seconds. */
const seal = (claims: Record<string, unknown>, key: Uint8Array, at: Date, lifetime: number) =>
  new EncryptJWT(claims).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).setIssuedAt(seconds(at)).setExpirationTime(seconds(at) + lifetime).encrypt(key);

async function unseal<T>(value: string, key: Uint8Array, schema: z.ZodType<T>, at: Date): Promise<T | null> {
  try {
    const { payload } = await jwtDecrypt(value, key, { currentDate: at, keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] });
    const parsed = schema.safeParse(payload);
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export async function issueCode(claims: Omit<CodeClaims, 'jti'>, at: Date): Promise<{ code: string; jti: string }> {
  const jti = randomUUID();
  return { code: await seal({ ...claims, jti }, codeKey(), at, CODE_SECONDS), jti };
}

export const openCode = (code: string, at: Date): Promise<CodeClaims | null> => unseal(code, codeKey(), codeClaims, at);

/** The `launch` parameter an EHR launch hands the app: opaque to it, five minutes, bound to the sign-in. */
export const issueLaunch = (claims: LaunchClaims, at: Date): Promise<string> => seal({ ...claims }, launchKey(), at, LAUNCH_SECONDS);
export const openLaunch = (launch: string, at: Date): Promise<LaunchClaims | null> => unseal(launch, launchKey(), launchClaims, at);

/** PKCE S256: the verifier hashes to the challenge the app sent when it asked for the code. */
export function pkceMatches(verifier: string, challenge: string): boolean {
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) return false;
  const hashed = Buffer.from(createHash('sha256').update(verifier, 'ascii').digest('base64url'));
  const expected = Buffer.from(challenge);
  return hashed.length === expected.length && timingSafeEqual(hashed, expected);
}
