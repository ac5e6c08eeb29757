'use server';

import { AuthError, CredentialsSignin } from 'next-auth';
import { credentialsSchema, INVALID_LOGIN_MESSAGE } from '@/lib/auth/login';
import { signIn } from '@/lib/auth/next-auth';

export interface LoginState {
  message: string | null;
  /** Ask for the authenticator code on the next submit. */
  needsCode: boolean;
  email: string;
}

const messages: Record<string, string> = {
  invalid: INVALID_LOGIN_MESSAGE,
  mfa_required: 'Enter the 6-digit code from your authenticator app.',
  mfa_invalid: 'That code did not work. Enter a new code from your authenticator app.',
  throttled: 'Too many sign-in attempts from this computer. Wait a few minutes and try again.',
};

export async function signInAction(_previous: LoginState, form: FormData): Promise<LoginState> {
  const input = {
    email: String(form.get('email') ?? ''),
    password: String(form.get('password') ?? ''),
    code: form.get('code') ? String(form.get('code')) : undefined,
  };
  const email = input.email.slice(0, 254);
  const parsed = credentialsSchema.safeParse(input);
  if (!parsed.success) {
    return { message: parsed.error.issues[0]?.message ?? INVALID_LOGIN_MESSAGE, needsCode: Boolean(input.code), email };
  }
  try {
    await signIn('credentials', { ...parsed.data, redirectTo: '/' });
  } catch (error) {
    if (error instanceof AuthError) {
      const code = error instanceof CredentialsSignin ? error.code : 'invalid';
      return {
        message: messages[code] ?? INVALID_LOGIN_MESSAGE,
        needsCode: code === 'mfa_required' || code === 'mfa_invalid',
        email,
      };
    }
    throw error; // the success redirect travels as an error
  }
  return { message: null, needsCode: false, email };
}
