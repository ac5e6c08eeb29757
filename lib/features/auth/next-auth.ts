import 'server-only';
import NextAuth, { CredentialsSignin, type NextAuthConfig } from 'next-auth';
import { sessionIdInCookie } from '@/lib/features/auth/session-cookie';
import Credentials from 'next-auth/providers/credentials';
import { secureCookies, sessionPolicy } from '@/lib/features/credentials/config';
import { signInWithPassword } from '@/lib/features/auth/login';
import { clientInfo } from '@/lib/features/auth/request';
import { endSessionById } from '@/lib/features/auth/sign-out';
import { finishSsoWithCode, signInWithSso } from '@/lib/features/auth/sso';
import { heldForCode, holdForCode, releaseHeld } from '@/lib/features/auth/sso-pending';
import { identityFrom, SSO_PROVIDER_ID, ssoProvider, ssoRefusalReason, ssoSettings } from '@/lib/features/auth/sso-provider';
import { auditActions } from '@/lib/domain/audit/actions';
import { tallyRefusal } from '@/lib/platform/audit';
import { log } from '@/lib/platform/log';
import { cookies } from 'next/headers';

/** Carries our LoginResult reason to the sign-in action (never a message with detail). */
class VigilSignInError extends CredentialsSignin {
  constructor(code: string) {
    super();
    this.code = code;
  }
}

/** The session id the browser held before this sign-in, which the new one replaces. */
const previousSessionId = (): Promise<string | null> => currentSessionId();

/**
 * Auth.js refuses a bad SSO callback itself (state, PKCE, nonce, ID token claims) before any of
 * our code runs; its logger is where the refusal surfaces, so it is tallied there like any other
 * refused anonymous sign-in (lib/platform/audit/refusals.ts), and logged without the IdP's detail.
 */
function recordAuthError(error: Error): void {
  const reason = ssoRefusalReason(error);
  log.warn({ authErrorType: (error as { type?: string }).type, reason }, 'Auth.js refused a sign-in request');
  if (!reason) return;
  clientInfo()
    .then((client) => tallyRefusal({ action: auditActions.auth.login, resourceType: 'session', source: client.ip, ip: client.ip, userAgent: client.userAgent, reason }))
    .catch(() => tallyRefusal({ action: auditActions.auth.login, resourceType: 'session', source: null, reason }));
}

const sso = ssoSettings();

/** `__Host-` (whenever cookies are Secure); Auth.js also salts the cookie's key with this name. */
const SESSION_COOKIE = secureCookies() ? '__Host-authjs.session-token' : 'authjs.session-token';

/**
 * Auth.js is the cookie carrier only: its JWT holds nothing but our session id (`sid`), and
 * every request re-checks that id against the `sessions` table (lib/features/auth/current.ts), so
 * revocation, idle timeout and disabling take effect on the next request. Each sign-in makes a
 * new session row (a new id, so a new cookie) and ends the one the browser held before.
 */
const config: NextAuthConfig = {
  trustHost: true,
  session: { strategy: 'jwt', maxAge: sessionPolicy.absoluteLifetimeMs / 1000 },
  pages: { signIn: '/login', error: '/login' },
  cookies: {
    // `__Host-` (whenever cookies are Secure): no sibling subdomain can set or overwrite it, and
    // it is bound to this host and path. SameSite stays Lax, not Strict: the hospital IdP's
    // sign-in and links from other clinical systems arrive as cross-site navigations, which must
    // land signed in; every GET that reveals or changes anything is instead a POST or refuses a
    // request another site started (SECURITY.md, "Cross-site requests").
    sessionToken: {
      name: SESSION_COOKIE,
      options: { httpOnly: true, sameSite: 'lax', path: '/', secure: secureCookies() },
    },
  },
  providers: [
    Credentials({
      credentials: { email: {}, password: {}, code: {} },
      authorize: async (credentials) => {
        const result = await signInWithPassword(
          {
            email: String(credentials.email ?? ''),
            password: String(credentials.password ?? ''),
            code: credentials.code ? String(credentials.code) : undefined,
          },
          await clientInfo(),
          { replacesSessionId: await previousSessionId() },
        );
        if (!result.ok) throw new VigilSignInError(result.reason);
        return { id: result.sessionId };
      },
    }),
    ...(sso
      ? [
          ssoProvider(sso),
          // The second step of an SSO sign-in the IdP did not make multi-factor: the account's own code.
          Credentials({
            id: 'sso-code',
            credentials: { code: {} },
            authorize: async (credentials) => {
              const identity = await heldForCode();
              await releaseHeld();
              if (!identity) throw new VigilSignInError('expired');
              const result = await finishSsoWithCode(identity, String(credentials.code ?? '').slice(0, 32), await clientInfo(), {
                replacesSessionId: await previousSessionId(),
              });
              if (!result.ok) throw new VigilSignInError(result.reason);
              return { id: result.sessionId };
            },
          }),
        ]
      : []),
  ],
  logger: { error: recordAuthError },
  events: {
    // Auth.js's own sign-out route (POST /api/auth/signout) only clears the cookie: the session
    // row it named ends too, with its grants, so a copied cookie is worthless afterwards.
    signOut: async (message) => {
      if ('token' in message) await endSessionById(message.token?.sid, await clientInfo());
    },
  },
  callbacks: {
    /**
     * Where Auth.js sends the browser after a callback: a path on this portal, kept relative so the
     * browser stays on the origin it came back to (Auth.js's own base URL is the bound address).
     */
    redirect: ({ url, baseUrl }) => {
      if (url.startsWith('/') && !url.startsWith('//')) return url;
      const target = new URL(url);
      return target.origin === baseUrl ? `${target.pathname}${target.search}` : '/';
    },
    /**
     * An SSO sign-in whose ID token Auth.js verified: Vigil's own checks (lib/features/auth/sso.ts)
     * decide, and a refusal goes back to the sign-in page with its reason, never an error page.
     */
    signIn: async ({ user, account, profile }) => {
      if (account?.provider !== SSO_PROVIDER_ID) return true;
      const identity = identityFrom(profile as Record<string, unknown> | undefined);
      if (!identity) return '/login?sso=failed';
      const result = await signInWithSso(identity, await clientInfo(), { replacesSessionId: await previousSessionId() });
      if (result.ok) {
        // The jwt callback below keeps user.id as the cookie's only content: our session id.
        user.id = result.sessionId;
        return true;
      }
      if (result.reason === 'code_required') {
        await holdForCode(identity);
        return '/login?sso=code';
      }
      return `/login?sso=${result.reason}`;
    },
    jwt: ({ token, user }) => (user?.id ? { sid: user.id } : { sid: token.sid }),
    session: ({ session, token }) => ({ ...session, sid: token.sid, user: undefined }) as never,
  },
};

// NextAuth() completes `config` from the environment (its secrets), so it must run before any decode.
export const { handlers, signIn, signOut } = NextAuth(config);

/**
 * The session id in the request's session cookie, or null: the cookie decrypted by Auth.js's own
 * decoder with the secrets NextAuth() settled on, and its expiry checked. Every page, action and
 * route asks this once per request, so it is not Auth.js's auth(): that runs the whole session
 * endpoint (a Request, the callbacks, and a freshly sealed cookie that a page cannot even set),
 * about a tenth of a chart open's CPU. The cookie's lifetime is the session's absolute lifetime
 * from sign-in; the idle timeout and every revocation live in the `sessions` row, checked next.
 */
export async function currentSessionId(): Promise<string | null> {
  return sessionIdInCookie((await cookies()).get(SESSION_COOKIE)?.value, { secret: config.secret ?? [], salt: SESSION_COOKIE });
}
