import 'server-only';
import type { OIDCConfig } from 'next-auth/providers';
import { z } from 'zod';
import { assertsMultiFactor, groupsFrom } from '@/lib/domain/sso/claims';
import { env } from '@/lib/platform/env';
import { log } from '@/lib/platform/log';
import type { SsoIdentity } from '@/lib/features/auth/sso';

/** The Auth.js provider id, and so the callback path the IdP redirects to: /api/auth/callback/hospital. */
export const SSO_PROVIDER_ID = 'hospital';

export interface SsoSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  label: string;
}

/** The hospital IdP when all three of issuer, client id and secret are set; start-up names a missing one. */
export function ssoSettings(): SsoSettings | null {
  const e = env();
  if (!e.VIGIL_OIDC_ISSUER || !e.VIGIL_OIDC_CLIENT_ID || !e.VIGIL_OIDC_CLIENT_SECRET) return null;
  return { issuer: e.VIGIL_OIDC_ISSUER, clientId: e.VIGIL_OIDC_CLIENT_ID, clientSecret: e.VIGIL_OIDC_CLIENT_SECRET, label: e.VIGIL_OIDC_NAME };
}

/** How SSO is set up, for the admin page: nothing secret. */
export function ssoSetup(): { configured: boolean; issuer: string | null; label: string; groupsClaim: string; jit: boolean } {
  const e = env();
  return { configured: ssoSettings() !== null, issuer: e.VIGIL_OIDC_ISSUER ?? null, label: e.VIGIL_OIDC_NAME, groupsClaim: e.VIGIL_OIDC_GROUPS_CLAIM, jit: e.VIGIL_OIDC_JIT };
}

/** The portal's public URL, without a trailing slash, when configured. */
const publicUrl = (): string | undefined => (env().AUTH_URL ?? env().VIGIL_PUBLIC_URL)?.replace(/\/$/, '');

/** What the sign-in page offers: the hospital IdP's button (by its name) when configured, and passwords unless switched off. */
export function signInChoices(): { sso: string | null; passwords: boolean } {
  return { sso: ssoSettings()?.label ?? null, passwords: !env().VIGIL_DISABLE_LOCAL_PASSWORDS };
}

/**
 * The OpenID Connect provider: authorization code with PKCE, `state` and `nonce`, all three
 * checked by Auth.js with oauth4webapi, which also checks the ID token's issuer, audience
 * (and `azp`), expiry and issue time. The ID token comes straight from the IdP's token endpoint,
 * over TLS and with Vigil's client secret, which OpenID Connect Core (3.1.3.7) accepts in place of
 * checking its signature; oauth4webapi relies on that. Claims are read from that ID token only.
 */
export function ssoProvider(settings: SsoSettings): OIDCConfig<Record<string, unknown>> {
  return {
    id: SSO_PROVIDER_ID,
    name: settings.label,
    type: 'oidc',
    issuer: settings.issuer,
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    checks: ['pkce', 'state', 'nonce'],
    // One redirect URI at both steps, the one registered at the IdP: the callback route's own URL
    // names the address the server is bound to, not the portal's public one.
    ...(publicUrl() ? { redirectProxyUrl: `${publicUrl()}/api/auth` } : {}),
    authorization: { params: { scope: 'openid email profile' } },
    // Auth.js gives the user a random id either way; the signIn callback replaces it with the session's.
    profile: (claims) => ({ id: String(claims.sub), email: typeof claims.email === 'string' ? claims.email : null }),
  };
}

const idTokenClaims = z.object({
  iss: z.string().url(),
  sub: z.string().min(1).max(255),
  email: z.string().max(254).optional(),
  email_verified: z.unknown().optional(),
  name: z.string().max(200).optional(),
});

/** The person an ID token names, or null when it lacks what Vigil needs (a tampered or odd IdP). */
export function identityFrom(profile: Record<string, unknown> | undefined): SsoIdentity | null {
  const parsed = idTokenClaims.safeParse(profile);
  if (!parsed.success || !profile) return null;
  const e = env();
  const groups = groupsFrom(profile, e.VIGIL_OIDC_GROUPS_CLAIM);
  if (!groups) return null;
  const claims = parsed.data;
  return {
    issuer: claims.iss,
    subject: claims.sub,
    email: claims.email ?? null,
    // Some IdPs send the string "true"; anything else is unverified.
    emailVerified: claims.email_verified === true || claims.email_verified === 'true',
    name: claims.name ?? null,
    groups,
    mfa: assertsMultiFactor(profile, e.VIGIL_OIDC_MFA_ACR),
  };
}

/**
 * Why Auth.js refused an SSO callback, as a reason code for the audit trail: the ID token claim
 * that failed (aud, iss, exp, iat, nonce…), a state that did not match, a missing check cookie,
 * or an error the IdP sent back. Null for errors that are not an SSO callback's.
 */
export function ssoRefusalReason(error: unknown): string | null {
  const authError = error as { type?: string; message?: string; cause?: { err?: unknown } } | null;
  const type = authError?.type;
  if (type === 'OAuthCallbackError') return 'sso_idp_error';
  if (type === 'InvalidCheck') {
    const check = /state|pkce|nonce/i.exec(authError?.message ?? '')?.[0]?.toLowerCase();
    return `sso_${check ?? 'check'}_cookie_missing`;
  }
  if (type !== 'CallbackRouteError' && type !== 'OAuthProfileParseError') return null;
  const cause = authError?.cause?.err as { code?: string; message?: string; cause?: { claim?: unknown } } | undefined;
  const claim = typeof cause?.cause?.claim === 'string' ? cause.cause.claim : null;
  if (claim && (cause?.code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' || cause?.code === 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED')) return `sso_id_token_${claim}`;
  if (cause?.code === 'OAUTH_INVALID_RESPONSE' && /"state"/.test(cause.message ?? '')) return 'sso_state_mismatch';
  return 'sso_callback_failed';
}

const discovery = z.object({ end_session_endpoint: z.string().url().optional() });
let endSession: { issuer: string; url: string | null; fetchedAt: number } | undefined;
const DISCOVERY_CACHE_MS = 10 * 60_000;

/**
 * Where "Also sign out of the hospital account" goes: the IdP's end_session_endpoint (RP-initiated
 * logout), back to Vigil's sign-in page afterwards. Null when the IdP offers none or cannot be reached.
 */
export async function idpSignOutUrl(origin: string): Promise<string | null> {
  const settings = ssoSettings();
  if (!settings) return null;
  if (endSession?.issuer !== settings.issuer || Date.now() - endSession.fetchedAt > DISCOVERY_CACHE_MS) {
    try {
      const response = await fetch(new URL('.well-known/openid-configuration', settings.issuer.endsWith('/') ? settings.issuer : `${settings.issuer}/`), {
        signal: AbortSignal.timeout(3000),
      });
      const parsed = discovery.safeParse(await response.json());
      endSession = { issuer: settings.issuer, url: parsed.success ? (parsed.data.end_session_endpoint ?? null) : null, fetchedAt: Date.now() };
    } catch (error) {
      log.warn({ err: error }, 'The identity provider’s discovery document could not be read; sign-out offers no IdP logout.');
      return null;
    }
  }
  if (!endSession.url) return null;
  const url = new URL(endSession.url);
  url.searchParams.set('client_id', settings.clientId);
  // The configured public URL when there is one: the Host header is the client's to choose.
  url.searchParams.set('post_logout_redirect_uri', `${publicUrl() ?? origin}/login?reason=signed_out`);
  return url.toString();
}
