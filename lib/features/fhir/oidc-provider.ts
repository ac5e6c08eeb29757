import 'server-only';
import { createECDH, createHash } from 'node:crypto';
import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { parseScopes, scopeString } from '@/lib/domain/access/smart-scopes';
import { systemSubkey } from '@/lib/platform/crypto';
import { sessionPolicy } from '@/lib/features/credentials/config';
import { appFor, type SmartApp } from '@/lib/features/fhir/apps';
import { backendTokenClaims, checkAssertionLifetime } from '@/lib/features/fhir/backend';
import { BACKEND_ALGORITHMS } from '@/lib/features/fhir/capability';
import { auditRefusal, auditRevocation } from '@/lib/features/fhir/oauth-answers';
import { OidcStore } from '@/lib/features/fhir/oidc-store';
import { CLOCK_TOLERANCE_SECONDS } from '@/lib/features/fhir/refusal-reasons';
import { currentRequest as scoped, requestScope } from '@/lib/features/fhir/oauth-request';
import { accountFor, userTokenClaims } from '@/lib/features/fhir/smart-grants';

/**
 * Vigil's SMART authorization server is panva's oidc-provider, configured here: authorization
 * code with PKCE (S256, required) for registered public apps, an ID token with `openid` (naming
 * the user's Practitioner resource as `fhirUser` with `fhirUser`), refresh tokens (rotated, a
 * reuse revokes the grant) only with `offline_access`, RFC 7009 revocation, and client
 * credentials with a `private_key_jwt` (RS384/ES384, `jti` once) for backend clients. What stays
 * Vigil's: who the user is (the sign-in and session of lib/features/auth — the provider's `accountId` is
 * the user, and each grant remembers the Vigil session that approved it), the consent page and
 * its checks (lib/features/fhir/authorize.ts), which scopes an app may get
 * (lib/domain/access/smart-scopes.ts), and the trail: every token issued and every refusal is
 * recorded under the same audit actions as before.
 *
 * Access tokens are five-minute JWTs (RFC 9068) for the FHIR base, signed ES256 with a key derived
 * from the system key (so every instance signs and verifies alike, and nothing is stored), as
 * are ID tokens (published at /oauth/jwks); the API verifies an access token and then checks the
 * grant and the session behind it on every request.
 */
const ACCESS_TOKEN_SECONDS = 300;
const OAUTH_PATHS = { authorization: '/oauth/authorize', token: '/oauth/token', revocation: '/oauth/revoke', jwks: '/oauth/jwks' } as const;
/**
 * The consent page sits under the provider's resume address (/oauth/authorize/<uid>), so the
 * browser sends the provider's resume cookie with the consent form, and the form's answer can
 * resume the authorization itself (lib/features/fhir/oauth-endpoint.ts `resumeAuthorization`).
 */
export const consentPath = (uid: string) => `/oauth/authorize/${uid}/consent`;

/** The provider's own scopes (OpenID Connect's), beside the FHIR server's resource scopes. */
export const oidcScopes = ['openid', 'fhirUser', 'offline_access'] as const;
export const isOidcScope = (word: string): word is (typeof oidcScopes)[number] => (oidcScopes as readonly string[]).includes(word);

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

/** The ES256 signing key, derived from the system key: the same on every instance, never stored. */
export function signingKey(): { kty: 'EC'; crv: 'P-256'; d: string; x: string; y: string; kid: string; alg: 'ES256'; use: 'sig' } {
  const secret = systemSubkey('smart-access-token-es256');
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(Buffer.from(secret));
  const point = ecdh.getPublicKey();
  const x = b64(point.subarray(1, 33));
  const y = b64(point.subarray(33, 65));
  return { kty: 'EC', crv: 'P-256', d: b64(secret), x, y, kid: createHash('sha256').update(`${x}.${y}`).digest('base64url').slice(0, 16), alg: 'ES256', use: 'sig' };
}

/**
 * A registered client as oidc-provider's client metadata: public apps, or backend clients with
 * their key set. Its API scopes are the resource server's (`getResourceServerInfo`); refresh
 * tokens only for an app registered with `offline_access`.
 */
function clientMetadata(app: SmartApp): Record<string, unknown> {
  if (app.kind === 'backend') {
    return { client_id: app.clientId, token_endpoint_auth_method: 'private_key_jwt', jwks: app.jwks ?? { keys: [] }, grant_types: ['client_credentials'], response_types: [], redirect_uris: [] };
  }
  const offline = parseScopes(app.scopes.join(' ')).offlineAccess;
  return {
    client_id: app.clientId,
    token_endpoint_auth_method: 'none',
    redirect_uris: app.redirectUris,
    grant_types: offline ? ['authorization_code', 'refresh_token'] : ['authorization_code'],
    response_types: ['code'],
  };
}

/** Clients are never stored by the provider: each lookup reads the registration as it stands. */
class RegisteredClients {
  async find(id: string) {
    const app = await appFor(id);
    return app ? clientMetadata(app) : undefined;
  }
  async upsert(): Promise<void> {}
  async destroy(): Promise<void> {}
  async consume(): Promise<void> {}
  async revokeByGrantId(): Promise<void> {}
  async findByUid(): Promise<undefined> {}
  async findByUserCode(): Promise<undefined> {}
}

/**
 * The scopes of the API an app may hold, in every spelling a request arrives in once Vigil has
 * written it in its words (lib/features/fhir/oauth-endpoint.ts): each registered level's wildcard
 * and each of its types. The OpenID Connect ones are the provider's, not the API's.
 */
function apiScopes(app: SmartApp | null): string {
  const registered = parseScopes((app?.scopes ?? []).join(' '));
  const words = scopeString({ ...registered, openid: false, fhirUser: false, offlineAccess: false }).split(' ').filter(Boolean);
  for (const level of ['user', 'patient', 'system'] as const) for (const type of registered[level]) words.push(`${level}/${type}.rs`);
  return [...new Set(words)].join(' ');
}

function configuration(fhirBase: string): Configuration {
  const cookieKey = b64(systemSubkey('smart-oauth-cookies'));
  const https = fhirBase.startsWith('https:');
  return {
    adapter: (name: string) => (name === 'Client' ? new RegisteredClients() : new OidcStore(name, () => requestScope.getStore()?.lookups)),
    findAccount: async (ctx, sub, token) => accountFor(sub, token, scoped()),
    jwks: { keys: [signingKey()] },
    // The one signing key is ES256: ID tokens are signed with it, as access tokens are.
    clientDefaults: { id_token_signed_response_alg: 'ES256', grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none' },
    cookies: {
      keys: [cookieKey],
      long: { signed: true, secure: https, sameSite: 'lax' },
      short: { signed: true, secure: https, sameSite: 'lax' },
    },
    routes: OAUTH_PATHS,
    scopes: [...oidcScopes],
    claims: { openid: ['sub'], fhirUser: ['fhirUser'] },
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    responseTypes: ['code'],
    clientAuthMethods: ['none', 'private_key_jwt'],
    enabledJWA: { clientAuthSigningAlgValues: [...BACKEND_ALGORITHMS] as never },
    pkce: { required: () => true },
    // Every authorization asks the user on Vigil's consent page: only the grant its answer just made is used, none is reused silently.
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId;
      return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
    },
    interactions: { url: async (_ctx, interaction) => consentPath(interaction.uid) },
    extraParams: {
      launch: null,
      // SMART: the app names the FHIR server it wants a token for as `aud`; only this one is answered.
      aud: async (_ctx, value) => {
        if (value?.replace(/\/$/, '') !== fhirBase) throw new errors.InvalidRequest('aud must name this FHIR server');
      },
    },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: false },
      revocation: { enabled: true },
      clientCredentials: { enabled: true },
      rpInitiatedLogout: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      resourceIndicators: {
        enabled: true,
        // SMART names the FHIR server as `aud`, not `resource`: every token is for this one API.
        defaultResource: () => fhirBase,
        useGrantedResource: () => true,
        getResourceServerInfo: async (_ctx, resource, client) => {
          if (resource !== fhirBase) throw new errors.InvalidTarget();
          return { scope: apiScopes(await appFor(client.clientId)), audience: fhirBase, accessTokenTTL: ACCESS_TOKEN_SECONDS, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
        },
      },
    },
    ttl: {
      AccessToken: ACCESS_TOKEN_SECONDS,
      ClientCredentials: ACCESS_TOKEN_SECONDS,
      // An ID token says who signed in at the exchange: it lives no longer than the access token beside it.
      IdToken: ACCESS_TOKEN_SECONDS,
      AuthorizationCode: 60,
      Interaction: 600,
      // A refresh token and its grant never outlive the longest a Vigil session can last.
      Grant: sessionPolicy.absoluteLifetimeMs / 1000,
      RefreshToken: sessionPolicy.absoluteLifetimeMs / 1000,
      Session: sessionPolicy.absoluteLifetimeMs / 1000,
    },
    expiresWithSession: async () => false,
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    extraTokenClaims: async (ctx, token) => {
      const scope = scoped();
      if (token.kind === 'ClientCredentials') return backendTokenClaims(token.clientId!, String(token.scope ?? ''), scope);
      const source = ctx.oidc.entities.AuthorizationCode ?? ctx.oidc.entities.RefreshToken;
      return userTokenClaims(token as unknown as { accountId: string; grantId: string; clientId: string; scope?: string; gty?: string }, source?.scopes.has('fhirUser') ?? false, scope);
    },
    assertJwtClientAuthClaimsAndHeader: async (_ctx, claims) => checkAssertionLifetime(claims, scoped()),
    renderError: async (ctx, out) => {
      // A plain sentence, never the provider's page: nothing of the request is echoed back.
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = out.error === 'invalid_request' || out.error === 'invalid_client' || out.error === 'invalid_redirect_uri'
        ? 'This app is not registered with Vigil, or its sign-in request cannot be accepted.'
        : 'The app’s sign-in could not be completed. Open the app again.';
    },
    clientBasedCORS: (_ctx, origin, client) => (client.redirectUris ?? []).some((uri) => new URL(uri).origin === origin),
  };
}

/**
 * The token response as SMART reads it: its `scope` all that was granted, the OpenID Connect
 * scopes too (the provider names only the API's), and the launch patient beside the token (the
 * API reads it from the token itself).
 */
function tokenAnswer(ctx: KoaContextWithOIDC, patient: string | null): object {
  const body = ctx.body as { scope?: string };
  const source = ctx.oidc.entities.AuthorizationCode ?? ctx.oidc.entities.RefreshToken;
  const oidc = [...(source?.scopes ?? [])].filter(isOidcScope);
  const scope = body.scope === undefined ? undefined : scopeString(parseScopes(`${oidc.join(' ')} ${body.scope}`));
  return { ...body, ...(scope === undefined ? {} : { scope }), ...(patient ? { patient } : {}) };
}

/** The error the provider answered, kept for the trail: its event fires before the answer is written. */
const failures = new WeakMap<object, Error & { error?: string }>();

const providers = new Map<string, Provider>();
/** Without VIGIL_PUBLIC_URL the base follows the Host header: a few names, never one per request. */
const MAX_PROVIDERS = 8;

/** The authorization server for one FHIR base (the Host rule of lib/features/fhir/capability.ts). */
export function providerFor(fhirBase: string): Provider {
  let provider = providers.get(fhirBase);
  if (provider) return provider;
  if (providers.size >= MAX_PROVIDERS) providers.delete(providers.keys().next().value!);
  provider = new Provider(fhirBase, configuration(fhirBase));
  provider.proxy = true;
  const remember = (ctx: KoaContextWithOIDC, error: Error) => failures.set(ctx, error);
  provider.on('grant.error', remember);
  provider.on('revocation.error', remember);
  provider.on('authorization.error', remember);
  provider.on('server_error', remember);
  provider.use(async (koa, next) => {
    const ctx = koa as KoaContextWithOIDC;
    await next();
    const failure = failures.get(ctx);
    if (failure && ctx.oidc?.route === 'token') await auditRefusal(ctx, failure, scoped());
    if (!failure && ctx.oidc?.route === 'revocation') await auditRevocation(ctx, scoped());
    if (!failure && ctx.oidc?.route === 'token' && ctx.status === 200) ctx.body = tokenAnswer(ctx, requestScope.getStore()?.patient ?? null);
  });
  providers.set(fhirBase, provider);
  return provider;
}

