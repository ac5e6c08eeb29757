#!/usr/bin/env node
/**
 * A real OpenID Provider for the SSO tests: panva's certified oidc-provider on loopback, playing
 * a hospital's identity provider with synthetic staff and groups. Playwright starts it as a
 * second web server (playwright.config.ts); a test can also import startTestIdp().
 *
 *   node test/idp/test-idp.mjs --port 3105 --portal http://127.0.0.1:3100
 *
 * Anyone may sign in as `<kind>-<anything>` with TEST_IDP_PASSWORD; the kind decides the groups
 * and whether the sign-in counts as multi-factor (amr). The suffix keeps each test's person its
 * own, so tests never share an account.
 *
 * Fault injection for the negative tests: `POST /__test/fault {"fault": …}` makes the NEXT token
 * response carry an ID token re-signed with the IdP's own key but with one thing wrong — a
 * foreign audience, an expiry in the past, or the nonce of an earlier sign-in. The signature is
 * valid, so only the relying party's claim checks can refuse it. `tampered_state` instead alters
 * the `state` of the NEXT redirect back to the portal, as an attacker splicing a callback would.
 */
import { generateKeyPairSync } from 'node:crypto';
import { parseArgs } from 'node:util';
import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT } from 'jose';
import Provider from 'oidc-provider';

export const TEST_IDP_PASSWORD = 'idp-test-password';
export const TEST_IDP_CLIENT_ID = 'vigil-portal';
export const TEST_IDP_CLIENT_SECRET = 'vigil-portal-test-secret-not-for-production';

/** Each kind of synthetic staff member: the groups the IdP asserts and the factors used. */
export const KINDS = {
  clinician: { groups: ['vigil-physicians', 'all-staff'], amr: ['pwd', 'otp'] },
  nurse: { groups: ['vigil-nurses', 'all-staff'], amr: ['pwd'] },
  unmapped: { groups: ['cafeteria', 'all-staff'], amr: ['pwd', 'otp'] },
  unverified: { groups: ['vigil-physicians'], amr: ['pwd', 'otp'], emailVerified: false },
};

const FAULTS = new Set(['wrong_audience', 'expired', 'replayed_nonce', 'tampered_state']);

function person(login) {
  const match = /^([a-z]+)-([a-z0-9-]{1,40})$/.exec(login ?? '');
  const kind = match && Object.hasOwn(KINDS, match[1]) ? KINDS[match[1]] : null;
  return kind ? { login, ...kind } : null;
}

const page = (title, body) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>` +
  `<body style="font-family:sans-serif;max-width:24rem;margin:4rem auto"><h1>Test hospital sign-in</h1>${body}</body></html>`;

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function startTestIdp({ port, portalUrls }) {
  const issuer = `http://127.0.0.1:${port}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-idp-1', alg: 'RS256', use: 'sig' };
  const signingKey = await importJWK(jwk, 'RS256');

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: TEST_IDP_CLIENT_ID,
        client_secret: TEST_IDP_CLIENT_SECRET,
        redirect_uris: portalUrls.map((url) => `${url}/api/auth/callback/hospital`),
        post_logout_redirect_uris: portalUrls.map((url) => `${url}/login?reason=signed_out`),
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: ['test-idp-cookie-key-not-for-production'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
    // Scope claims go into the ID token itself, as Entra ID, Okta and Keycloak can be set to do.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    findAccount: (_ctx, id) => {
      const who = person(id);
      if (!who) return undefined;
      return {
        accountId: id,
        claims: () => ({
          sub: id,
          email: `sso-${id}@hospital.test`,
          email_verified: who.emailVerified ?? true,
          name: `SSO ${id}`,
          groups: who.groups,
        }),
      };
    },
    // The hospital has consented for its own staff: no consent screen.
    loadExistingGrant: async (ctx) => {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
  });
  provider.proxy = false;

  let fault = null;
  const nonces = [];

  async function rewrite(idToken, kind) {
    const claims = decodeJwt(idToken);
    const now = Math.floor(Date.now() / 1000);
    if (kind === 'wrong_audience') claims.aud = 'some-other-application';
    if (kind === 'expired') Object.assign(claims, { iat: now - 7200, exp: now - 3600, auth_time: now - 7200 });
    if (kind === 'replayed_nonce') claims.nonce = nonces.find((n) => n !== claims.nonce) ?? 'a-nonce-from-an-earlier-sign-in';
    return new SignJWT(claims).setProtectedHeader(decodeProtectedHeader(idToken)).sign(signingKey);
  }

  provider.use(async (ctx, next) => {
    if (ctx.path === '/__test/fault' && ctx.method === 'POST') {
      const body = await readJson(ctx.req);
      fault = FAULTS.has(body?.fault) ? body.fault : null;
      ctx.body = { fault };
      return;
    }
    if (ctx.path.startsWith('/interaction/')) return interaction(ctx);
    await next();
    const location = ctx.response.get('Location');
    if (fault === 'tampered_state' && location?.includes('/api/auth/callback/')) {
      const back = new URL(location);
      back.searchParams.set('state', `${back.searchParams.get('state') ?? ''}x`);
      ctx.redirect(back.toString());
      fault = null;
    }
    if (ctx.path === '/token' && ctx.body && typeof ctx.body === 'object' && ctx.body.id_token) {
      const nonce = decodeJwt(ctx.body.id_token).nonce;
      if (fault && fault !== 'tampered_state') {
        ctx.body.id_token = await rewrite(ctx.body.id_token, fault);
        fault = null;
      }
      if (typeof nonce === 'string') nonces.unshift(nonce);
      nonces.length = Math.min(nonces.length, 20);
    }
  });

  async function interaction(ctx) {
    const uid = ctx.path.split('/')[2];
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== uid) ctx.throw(400, 'interaction mismatch');
    if (ctx.method === 'GET') {
      ctx.type = 'html';
      ctx.body = page(
        'Test hospital sign-in',
        `<form method="post" action="/interaction/${escapeHtml(uid)}">` +
          '<p><label>Username <input name="login" autocomplete="username"></label></p>' +
          '<p><label>Password <input name="password" type="password" autocomplete="current-password"></label></p>' +
          '<p><button type="submit">Sign in to the hospital</button></p></form>',
      );
      return;
    }
    const form = new URLSearchParams(await readText(ctx.req));
    const who = person(form.get('login'));
    if (!who || form.get('password') !== TEST_IDP_PASSWORD) {
      ctx.type = 'html';
      ctx.body = page('Test hospital sign-in', '<p role="alert">Unknown username or wrong password.</p>');
      return;
    }
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: who.login, amr: who.amr } }, { mergeWithLastSubmission: false });
    ctx.respond = false;
  }

  const server = provider.listen(port, '127.0.0.1');
  await new Promise((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  return { issuer, close: () => new Promise((resolve) => server.close(resolve)) };
}

async function readText(req) {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 16_384) break;
  }
  return text;
}

async function readJson(req) {
  try {
    return JSON.parse(await readText(req));
  } catch {
    return null;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { port: { type: 'string' }, portal: { type: 'string', multiple: true } } });
  const port = Number(values.port ?? 3105);
  const idp = await startTestIdp({ port, portalUrls: values.portal ?? ['http://127.0.0.1:3100'] });
  console.log(`Test identity provider at ${idp.issuer}`);
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => idp.close().then(() => process.exit(0)));
}
