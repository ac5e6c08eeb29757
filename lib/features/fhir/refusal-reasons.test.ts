/**
 * Refusal reasons come from facts (the OAuth error code, what the store met, Vigil's own reading
 * of what the client sent), so no wording of the provider's reaches them: the inputs below carry
 * no message at all. The token endpoint tests (smart.test.ts, smart-launch.test.ts,
 * backend-services.test.ts) check the same reasons through the provider itself.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SignJWT, generateKeyPair } from 'jose';
import { noLookups } from '@/lib/features/fhir/oidc-store';
import { refusalReason, type RefusedTokenRequest } from '@/lib/features/fhir/refusal-reasons';

const verifier = 'v'.repeat(43);
const challenge = createHash('sha256').update(verifier).digest('base64url');
const code = { clientId: 'app', codeChallenge: challenge, redirectUri: 'http://app.test/cb' };
const AUDIENCE = 'http://vigil.test/oauth/token';
const now = new Date();

const request = (over: Partial<RefusedTokenRequest>): RefusedTokenRequest => ({
  error: 'invalid_grant',
  grantType: 'authorization_code',
  hookRefusal: null,
  lookups: noLookups(),
  client: { clientId: 'app', authMethod: 'none' },
  params: { code_verifier: verifier, redirect_uri: code.redirectUri },
  audiences: new Set([AUDIENCE, 'http://vigil.test/fhir/R4']),
  now,
  ...over,
});

describe('refusal reasons', () => {
  it('a code: unknown, revoked by an earlier replay, another client’s, a wrong verifier, another redirect, used', () => {
    expect(refusalReason(request({}))).toBe('bad_code');
    expect(refusalReason(request({ lookups: { ...noLookups(), revoked: true } }))).toBe('code_replayed');
    expect(refusalReason(request({ lookups: { ...noLookups(), credential: { ...code, clientId: 'other' } } }))).toBe('client_mismatch');
    expect(refusalReason(request({ lookups: { ...noLookups(), credential: code }, params: { code_verifier: 'w'.repeat(43), redirect_uri: code.redirectUri } }))).toBe('pkce_failed');
    expect(refusalReason(request({ lookups: { ...noLookups(), credential: code }, params: { code_verifier: verifier, redirect_uri: 'http://evil.test/cb' } }))).toBe('client_mismatch');
    expect(refusalReason(request({ lookups: { ...noLookups(), credential: code, consumed: true } }))).toBe('code_replayed');
    // A hook's own reason wins over what the provider answered.
    expect(refusalReason(request({ hookRefusal: 'session_revoked', lookups: { ...noLookups(), credential: code, consumed: true } }))).toBe('session_revoked');
  });

  it('a refresh token: used, revoked, expired, unknown; an unknown client is a revoked app', () => {
    const refresh = (lookups: Partial<ReturnType<typeof noLookups>>, error = 'invalid_grant') => refusalReason(request({ grantType: 'refresh_token', error, lookups: { ...noLookups(), ...lookups } }));
    expect(refresh({ credential: code, consumed: true })).toBe('refresh_reused');
    expect(refresh({ revoked: true })).toBe('refresh_revoked');
    expect(refresh({ expired: true })).toBe('refresh_expired');
    expect(refresh({})).toBe('unknown_refresh_token');
    expect(refresh({}, 'invalid_client')).toBe('app_revoked');
  });

  it('a client assertion: unregistered, replayed, wrong algorithm, wrong audience, expired, and else the key', async () => {
    const { privateKey } = await generateKeyPair('ES384');
    const seconds = Math.floor(now.getTime() / 1000);
    const signed = ({ aud = AUDIENCE, exp = seconds + 60 } = {}) =>
      new SignJWT({ jti: 'j' }).setProtectedHeader({ alg: 'ES384' }).setIssuer('registry').setSubject('registry').setAudience(aud).setExpirationTime(exp).sign(privateKey);
    const backend = async (assertion: string, over: Partial<RefusedTokenRequest> = {}) =>
      refusalReason(request({ grantType: 'client_credentials', error: 'invalid_client', client: { clientId: 'registry', authMethod: 'private_key_jwt' }, params: { client_assertion: assertion }, ...over }));
    expect(await backend(await signed(), { client: null })).toBe('unknown_client');
    expect(await backend(await signed(), { lookups: { ...noLookups(), replayed: true } })).toBe('jti_replayed');
    expect(await backend(await signed({ aud: 'http://elsewhere.test/oauth/token' }))).toBe('assertion_aud');
    expect(await backend(await signed({ exp: seconds - 600 }))).toBe('assertion_expired');
    expect(await backend(await signed())).toBe('wrong_key');
    const hs256 = await new SignJWT({ jti: 'j' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('registry').setAudience(AUDIENCE).setExpirationTime(seconds + 60).sign(new TextEncoder().encode('x'.repeat(32)));
    expect(await backend(hs256)).toBe('bad_assertion');
    expect(await backend('not a jwt')).toBe('bad_assertion');
    expect(await backend(await signed(), { error: 'invalid_scope' })).toBe('no_system_scope');
  });
});
