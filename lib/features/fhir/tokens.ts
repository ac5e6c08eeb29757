import 'server-only';
import { EncryptJWT, importJWK, jwtDecrypt, jwtVerify, errors } from 'jose';
import { z } from 'zod';
import { parseScopes, type FhirResourceType, type UserResourceType } from '@/lib/domain/access/smart-scopes';
import { systemSubkey } from '@/lib/platform/crypto';
import { signingKey } from '@/lib/features/fhir/oidc-provider';

/**
 * What the FHIR API reads from an access token oidc-provider issued (RFC 9068 JWT, ES256 under
 * the derived key of lib/features/fhir/oidc-provider.ts): its user (a backend client's: its
 * service account), the Vigil session behind it, the app, the granted scopes and the launch
 * patient. The `sid` binds it to that session: every API request re-checks it (signed out, idle,
 * expired, user disabled → refused), so a token never outlives the sign-in behind it; a user
 * app's `grant_id` binds it to its grant, which every request also asks after.
 *
 * An EHR launch's `launch` value is Vigil's own: sealed (A256GCM, key derived from the system
 * key), five minutes, bound to the user, the sign-in, the app and the chart's patient.
 */
const accessClaims = z.object({
  sub: z.string(),
  sid: z.string().min(1),
  client_id: z.string(),
  scope: z.string().default(''),
  /** Backend clients: the service account (their `sub` is the client id). */
  user: z.uuid().optional(),
  patient: z.uuid().optional(),
  /** User apps: the provider's grant (client credentials have none). */
  grant_id: z.string().min(1).max(100).optional(),
  /** With `fhirUser`: the user's Practitioner, as the ID token names it. */
  fhirUser: z.url().max(600).optional(),
});

export interface TokenClaims {
  sub: string;
  sid: string;
  client_id: string;
  scope: string;
  user_types: UserResourceType[];
  patient_types: FhirResourceType[];
  system_types: FhirResourceType[];
  patient: string | null;
  grant_id: string | null;
  fhirUser: string | null;
}

export type TokenProblem = 'malformed' | 'expired' | 'wrong_audience' | 'bad_signature';

/** The public half of the provider's signing key, derived afresh (a key change applies at once). */
const publicKey = () => {
  const { kty, crv, x, y } = signingKey();
  return importJWK({ kty, crv, x, y }, 'ES256');
};

export async function verifyAccessToken(token: string, audience: string, at: Date): Promise<{ ok: true; claims: TokenClaims } | { ok: false; problem: TokenProblem }> {
  try {
    const { payload } = await jwtVerify(token, await publicKey(), { algorithms: ['ES256'], issuer: audience, audience, currentDate: at, typ: 'at+jwt' });
    const parsed = accessClaims.safeParse(payload);
    if (!parsed.success) return { ok: false, problem: 'malformed' };
    const claims = parsed.data;
    const grant = parseScopes(claims.scope);
    return {
      ok: true,
      claims: {
        sub: claims.user ?? claims.sub,
        sid: claims.sid,
        client_id: claims.client_id,
        scope: claims.scope,
        user_types: grant.user,
        patient_types: claims.patient ? grant.patient : [],
        system_types: grant.system,
        patient: claims.patient ?? null,
        grant_id: claims.grant_id ?? null,
        fhirUser: claims.fhirUser ?? null,
      },
    };
  } catch (error) {
    if (error instanceof errors.JWTExpired) return { ok: false, problem: 'expired' };
    if (error instanceof errors.JWTClaimValidationFailed && (error.claim === 'aud' || error.claim === 'iss')) return { ok: false, problem: 'wrong_audience' };
    if (error instanceof errors.JWSSignatureVerificationFailed) return { ok: false, problem: 'bad_signature' };
    return { ok: false, problem: 'malformed' };
  }
}

/** An EHR launch from the chart: this user, in this sign-in, opened this app on this patient. */
const launchClaims = z.object({ sub: z.uuid(), sid: z.string().min(1), client_id: z.string(), patient: z.uuid() });
export type LaunchClaims = z.infer<typeof launchClaims>;
const LAUNCH_SECONDS = 300;
const launchKey = () => systemSubkey('smart-launch-context');
const seconds = (at: Date) => Math.floor(at.getTime() / 1000);

/** The `launch` parameter an EHR launch hands the app: opaque to it, five minutes, bound to the sign-in. */
export const issueLaunch = (claims: LaunchClaims, at: Date): Promise<string> =>
  new EncryptJWT({ ...claims }).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).setIssuedAt(seconds(at)).setExpirationTime(seconds(at) + LAUNCH_SECONDS).encrypt(launchKey());

export async function openLaunch(launch: string, at: Date): Promise<LaunchClaims | null> {
  try {
    const { payload } = await jwtDecrypt(launch, launchKey(), { currentDate: at, keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] });
    const parsed = launchClaims.safeParse(payload);
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
