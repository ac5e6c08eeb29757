import 'server-only';
import { createHash } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { BACKEND_ALGORITHMS } from '@/lib/features/fhir/capability';
import type { StoreLookups } from '@/lib/features/fhir/oidc-store';

/**
 * Why the token endpoint refused, in the trail's words, named from facts and never from the
 * provider's sentences: the OAuth error code it answered (fixed by RFC 6749 §5.2), the reason a
 * Vigil hook gave, what the store met during the request (a revoked, expired, used or replayed
 * record, and the code or refresh token presented), and Vigil's own reading of what the client
 * sent. So an upgrade that rewords a message cannot change a reason. When one request breaks
 * several rules, the reason is the one the provider checks first.
 */
export interface RefusedTokenRequest {
  /** The OAuth error code answered. */
  error: string;
  grantType: string;
  /** What a Vigil hook knew better than the error it threw. */
  hookRefusal: string | null;
  lookups: StoreLookups;
  /** The client the provider found for the request, if it found one. */
  client: { clientId: string; authMethod?: string } | null;
  params: { code_verifier?: unknown; redirect_uri?: unknown; client_assertion?: unknown };
  /** The audiences a client assertion may name (this server's issuer and token endpoint). */
  audiences: ReadonlySet<string>;
  now: Date;
}

/** The clock skew the provider allows an assertion, and Vigil's reading of it with it. */
export const CLOCK_TOLERANCE_SECONDS = 15;

export function refusalReason(request: RefusedTokenRequest): string {
  const { error, grantType } = request;
  if (request.hookRefusal) return request.hookRefusal;
  if (error === 'unsupported_grant_type') return 'unsupported_grant';
  if (error === 'invalid_scope') return grantType === 'client_credentials' ? 'no_system_scope' : 'invalid_scope';
  if (grantType === 'client_credentials') return assertionReason(request);
  if (error === 'invalid_client') return grantType === 'refresh_token' ? 'app_revoked' : 'client_mismatch';
  if (error === 'invalid_request') return 'malformed';
  return grantType === 'refresh_token' ? refreshReason(request) : codeReason(request);
}

const pkceMatches = (verifier: unknown, challenge: unknown) =>
  typeof verifier === 'string' && typeof challenge === 'string' && createHash('sha256').update(verifier).digest('base64url') === challenge;

/** In the provider's order: the code found, its client, its PKCE verifier, its redirect URI, then used once. */
function codeReason({ lookups, client, params }: RefusedTokenRequest): string {
  const code = lookups.credential;
  // A code its grant's revocation ended was used before: the first reuse is what revoked it.
  if (!code) return lookups.revoked ? 'code_replayed' : 'bad_code';
  if (code.clientId !== client?.clientId) return 'client_mismatch';
  if (!pkceMatches(params.code_verifier, code.codeChallenge)) return 'pkce_failed';
  if (code.redirectUri !== params.redirect_uri) return 'client_mismatch';
  return lookups.consumed ? 'code_replayed' : 'bad_code';
}

/** In the provider's order: the token found, its client, its grant unexpired, then used once. */
function refreshReason({ lookups, client }: RefusedTokenRequest): string {
  const token = lookups.credential;
  if (!token) return lookups.revoked ? 'refresh_revoked' : lookups.expired ? 'refresh_expired' : 'unknown_refresh_token';
  if (token.clientId !== client?.clientId) return 'unknown_refresh_token';
  if (lookups.expired) return 'refresh_expired';
  return lookups.consumed ? 'refresh_reused' : 'unknown_refresh_token';
}

/** The refused assertion's header and claims, read without trusting them: only to name the refusal. */
function readAssertion(value: unknown) {
  if (typeof value !== 'string') return null;
  try {
    return { alg: decodeProtectedHeader(value).alg, claims: decodeJwt(value) };
  } catch {
    return null;
  }
}

/**
 * A backend client's assertion, checked as the provider checks it: a registered backend client,
 * an allowed algorithm and the claims it requires, this server as the audience, not expired;
 * what is left when all of those hold is the signature against the registered key set. A `jti`
 * the replay store already held means every other check had passed.
 */
function assertionReason({ error, client, lookups, params, audiences, now }: RefusedTokenRequest): string {
  if (error === 'invalid_request') return 'malformed';
  if (error !== 'invalid_client') return 'bad_assertion';
  if (!client || client.authMethod !== 'private_key_jwt') return 'unknown_client';
  if (lookups.replayed) return 'jti_replayed';
  const assertion = readAssertion(params.client_assertion);
  if (!assertion) return 'bad_assertion';
  const { alg, claims } = assertion;
  if (!alg || !BACKEND_ALGORITHMS.includes(alg) || typeof claims.exp !== 'number' || !claims.jti || claims.iss !== client.clientId) return 'bad_assertion';
  if (![claims.aud ?? []].flat().some((aud) => audiences.has(aud))) return 'assertion_aud';
  if (claims.exp <= Math.floor(now.getTime() / 1000) - CLOCK_TOLERANCE_SECONDS) return 'assertion_expired';
  return 'wrong_key';
}
