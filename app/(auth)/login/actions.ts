'use server';

import { AuthError, CredentialsSignin } from 'next-auth';
import { credentialsSchema, INVALID_LOGIN_MESSAGE, LOGIN_MESSAGES } from '@/lib/auth/login';
import { signIn } from '@/lib/auth/next-auth';

export interface LoginState {
  message: string | null;
  /** Ask for the authenticator code on the next submit. */
  needsCode: boolean;
  email: string;
}

const messages: Record<string, string> = LOGIN_MESSAGES;

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
