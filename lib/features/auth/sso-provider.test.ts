/**
 * How an Auth.js refusal of an SSO callback is named in the audit trail, from the errors Auth.js
 * and oauth4webapi really throw (the e2e spec shows the same refusals against a real IdP).
 */
import { describe, expect, it } from 'vitest';
import { CallbackRouteError, CredentialsSignin, InvalidCheck, OAuthCallbackError } from '@auth/core/errors';
import * as o from 'oauth4webapi';
import { identityFrom, ssoRefusalReason } from '@/lib/features/auth/sso-provider';

const as: o.AuthorizationServer = { issuer: 'https://login.hospital.example', token_endpoint: 'https://login.hospital.example/token' };
const client: o.Client = { client_id: 'vigil-portal' };

/** Auth.js wraps a callback's failure as `new CallbackRouteError(error)`; its types only declare a string message. */
const asAuthJsWraps = (error: unknown): CallbackRouteError => Reflect.construct(CallbackRouteError, [error]);

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** What Auth.js would throw for a token response whose ID token carries these claims. */
async function refusalFor(claims: Record<string, unknown>, expectedNonce = 'the-nonce'): Promise<unknown> {
  const idToken = `${b64({ alg: 'RS256', kid: 'k' })}.${b64(claims)}.c2lnbmF0dXJl`;
  const response = Response.json({ access_token: 'a', token_type: 'bearer', id_token: idToken });
  try {
    await o.processAuthorizationCodeResponse(as, client, response, { expectedNonce, requireIdToken: true });
  } catch (error) {
    return asAuthJsWraps(error);
  }
  throw new Error('the token response was accepted');
}

const now = Math.floor(Date.now() / 1000);
const good = { iss: as.issuer, aud: 'vigil-portal', sub: 's', iat: now, exp: now + 300, nonce: 'the-nonce' };

describe('naming an SSO refusal', () => {
  it('names the ID token claim that failed', async () => {
    expect(ssoRefusalReason(await refusalFor({ ...good, aud: 'another-app' }))).toBe('sso_id_token_aud');
    expect(ssoRefusalReason(await refusalFor({ ...good, iss: 'https://evil.example' }))).toBe('sso_id_token_iss');
    expect(ssoRefusalReason(await refusalFor({ ...good, iat: now - 7200, exp: now - 3600 }))).toBe('sso_id_token_exp');
    expect(ssoRefusalReason(await refusalFor({ ...good, nonce: 'an-earlier-nonce' }))).toBe('sso_id_token_nonce');
  });

  it('names a state that does not match, a check cookie that is missing, and an error from the IdP', () => {
    let mismatch: unknown;
    try {
      o.validateAuthResponse(as, client, new URLSearchParams({ code: 'c', state: 'tampered', iss: as.issuer }), 'expected');
    } catch (error) {
      mismatch = asAuthJsWraps(error);
    }
    expect(ssoRefusalReason(mismatch)).toBe('sso_state_mismatch');
    expect(ssoRefusalReason(new InvalidCheck('State cookie was missing.'))).toBe('sso_state_cookie_missing');
    expect(ssoRefusalReason(new InvalidCheck('PKCE code_verifier cookie was missing.'))).toBe('sso_pkce_cookie_missing');
    expect(ssoRefusalReason(new OAuthCallbackError('OAuth Provider returned an error'))).toBe('sso_idp_error');
  });

  it('leaves errors that are not an SSO callback’s to their own audit (a refused password is tallied by the sign-in)', () => {
    expect(ssoRefusalReason(new CredentialsSignin())).toBeNull();
    expect(ssoRefusalReason(new Error('anything'))).toBeNull();
  });
});

describe('the person an ID token names', () => {
  it('reads the subject, a verified email, the groups and the IdP’s MFA', () => {
    expect(identityFrom({ ...good, email: 'a@hospital.test', email_verified: true, groups: ['vigil-nurses'], amr: ['pwd', 'mfa'] })).toEqual({
      issuer: as.issuer,
      subject: 's',
      email: 'a@hospital.test',
      emailVerified: true,
      name: null,
      groups: ['vigil-nurses'],
      mfa: true,
    });
    expect(identityFrom({ ...good, email: 'a@hospital.test', email_verified: 'false' })).toMatchObject({ emailVerified: false, groups: [], mfa: false });
  });

  it('refuses a token without a subject or with groups it cannot read', () => {
    expect(identityFrom({ ...good, sub: '' })).toBeNull();
    expect(identityFrom({ ...good, groups: [{ id: 1 }] })).toBeNull();
    expect(identityFrom(undefined)).toBeNull();
  });
});
