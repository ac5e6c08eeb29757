import 'server-only';
import NextAuth, { CredentialsSignin } from 'next-auth';
import Credentials from 'next-auth/providers/credentials';
import { sessionPolicy } from './config';
import { signInWithPassword } from './login';
import { clientInfo } from './request';

/** Carries our LoginResult reason to the sign-in action (never a message with detail). */
class VigilSignInError extends CredentialsSignin {
  constructor(code: string) {
    super();
    this.code = code;
  }
}

/**
 * Auth.js is the cookie carrier only: its JWT holds nothing but our session id (`sid`), and
 * every request re-checks that id against the `sessions` table (lib/auth/current.ts), so
 * revocation, idle timeout and disabling take effect on the next request.
 */
export const { handlers, auth, signIn, signOut } = NextAuth({
  trustHost: true,
  session: { strategy: 'jwt', maxAge: sessionPolicy.absoluteLifetimeMs / 1000 },
  pages: { signIn: '/login', error: '/login' },
  cookies: {
    sessionToken: {
      options: { httpOnly: true, sameSite: 'lax', path: '/', secure: process.env.NODE_ENV === 'production' && process.env.VIGIL_INSECURE_COOKIES !== 'true' },
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
