import 'server-only';
import NextAuth, { CredentialsSignin } from 'next-auth';
import Credentials from 'next-auth/providers/credentials';
import { secureCookies, sessionPolicy } from '@/lib/features/credentials/config';
import { signInWithPassword } from '@/lib/features/auth/login';
import { clientInfo } from '@/lib/features/auth/request';

/** Carries our LoginResult reason to the sign-in action (never a message with detail). */
class VigilSignInError extends CredentialsSignin {
  constructor(code: string) {
    super();
    this.code = code;
  }
}

/**
 * Auth.js is the cookie carrier only: its JWT holds nothing but our session id (`sid`), and
 * every request re-checks that id against the `sessions` table (lib/features/auth/current.ts), so
 * revocation, idle timeout and disabling take effect on the next request. Each sign-in makes a
 * new session row (a new id, so a new cookie) and ends the one the browser held before.
 */
export const { handlers, auth, signIn, signOut } = NextAuth({
  trustHost: true,
  session: { strategy: 'jwt', maxAge: sessionPolicy.absoluteLifetimeMs / 1000 },
  pages: { signIn: '/login', error: '/login' },
  cookies: {
    sessionToken: {
      options: { httpOnly: true, sameSite: 'lax', path: '/', secure: secureCookies() },
    },
  },
  providers: [
    Credentials({
      credentials: { email: {}, password: {}, code: {} },
      authorize: async (credentials) => {
        const previous = (await auth().catch(() => null)) as { sid?: unknown } | null;
        const result = await signInWithPassword(
          {
            email: String(credentials.email ?? ''),
            password: String(credentials.password ?? ''),
            code: credentials.code ? String(credentials.code) : undefined,
          },
          await clientInfo(),
          { replacesSessionId: typeof previous?.sid === 'string' ? previous.sid : null },
        );
        if (!result.ok) throw new VigilSignInError(result.reason);
        return { id: result.sessionId };
      },
    }),
  ],
  callbacks: {
    jwt: ({ token, user }) => (user?.id ? { sid: user.id } : { sid: token.sid }),
    session: ({ session, token }) => ({ ...session, sid: token.sid, user: undefined }) as never,
  },
});
