'use server';

import { AuthError, CredentialsSignin } from 'next-auth';
import { credentialsSchema, INVALID_LOGIN_MESSAGE, LOGIN_MESSAGES } from '@/lib/features/auth/login';
import { publicEntry } from '@/lib/features/auth/entry';
import { signIn } from '@/lib/features/auth/next-auth';
import { SSO_MESSAGES } from '@/lib/features/auth/sso';
import { SSO_PROVIDER_ID } from '@/lib/features/auth/sso-provider';

export interface LoginState {
  message: string | null;
  /** Ask for the authenticator code on the next submit. */
  needsCode: boolean;
  email: string;
  /** Counts answers, so the form can empty the code field after each one. */
  attempt: number;
  /** Counts refusals outside the code step, after which the password field is emptied. */
  passwordResets: number;
}

const messages: Record<string, string> = LOGIN_MESSAGES;

/** A field's text; a file posted in its place is left out, so the schema refuses it as missing. */
function textField(form: FormData, name: string): string | undefined {
  const value = form.get(name);
  return typeof value === 'string' ? value : undefined;
}

export const signInAction = publicEntry('auth.sign-in', 'Signing in is how a viewer comes to exist: no one is signed in yet.', async (previous: LoginState, form: FormData): Promise<LoginState> => {
  const input = {
    email: textField(form, 'email'),
    password: textField(form, 'password'),
    code: textField(form, 'code') || undefined,
  };
  const email = (input.email ?? '').slice(0, 254);
  const answer = (message: string, needsCode: boolean): LoginState => ({
    message,
    needsCode,
    email,
    attempt: (previous?.attempt ?? 0) + 1,
    passwordResets: (previous?.passwordResets ?? 0) + (needsCode ? 0 : 1),
  });
  const parsed = credentialsSchema.safeParse(input);
  if (!parsed.success) return answer(parsed.error.issues[0]?.message ?? INVALID_LOGIN_MESSAGE, Boolean(input.code));
  const { code, ...credentials } = parsed.data;
  try {
    // Auth.js sends these as form fields: an absent code must be left out, not sent as "undefined".
    await signIn('credentials', { ...credentials, ...(code ? { code } : {}), redirectTo: '/' });
  } catch (error) {
    if (error instanceof AuthError) {
      const reason = error instanceof CredentialsSignin ? error.code : 'invalid';
      return answer(messages[reason] ?? INVALID_LOGIN_MESSAGE, reason === 'mfa_required' || reason === 'mfa_invalid');
    }
    throw error; // the success redirect travels as an error
  }
  return answer(INVALID_LOGIN_MESSAGE, false);
});

/** Off to the hospital's identity provider (Auth.js sets the PKCE, state and nonce cookies first). */
export const ssoSignInAction = publicEntry('auth.sso-sign-in', 'Signing in through the hospital identity provider starts before there is a viewer.', async (): Promise<void> => {
  await signIn(SSO_PROVIDER_ID, { redirectTo: '/' });
});

export interface SsoCodeState {
  message: string | null;
}

const ssoMessages: Record<string, string> = SSO_MESSAGES;

/** The second step of an SSO sign-in the identity provider did not make multi-factor. */
export const ssoCodeAction = publicEntry('auth.sso-code', 'The second step of an SSO sign-in: there is no session until the code is right.', async (_: SsoCodeState, form: FormData): Promise<SsoCodeState> => {
  const code = textField(form, 'code')?.trim().slice(0, 32) ?? '';
  if (!code) return { message: SSO_MESSAGES.code_required };
  try {
    await signIn('sso-code', { code, redirectTo: '/' });
  } catch (error) {
    if (error instanceof AuthError) {
      const reason = error instanceof CredentialsSignin ? error.code : 'failed';
      return { message: ssoMessages[reason] ?? SSO_MESSAGES.failed };
    }
    throw error;
  }
  return { message: SSO_MESSAGES.failed };
});
