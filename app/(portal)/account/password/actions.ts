'use server';

import { redirect } from 'next/navigation';
import { guardedAction } from '@/lib/features/auth/entry';
import { changeOwnPassword } from '@/lib/features/auth/password-change';

export interface PasswordFormState {
  message: string | null;
}

const text = (form: FormData, name: string) => form.get(name) ?? '';

export const changePasswordAction = guardedAction(
  changeOwnPassword,
  (_viewer, _previous: PasswordFormState, form: FormData) => ({
    current: text(form, 'current'),
    password: text(form, 'password'),
    passwordConfirm: text(form, 'passwordConfirm'),
  }),
  (result): PasswordFormState => {
    if (!result.ok) return { message: result.message };
    // Next stop for a new administrator: MFA enrolment, which the gate sends them to if owed.
    redirect('/account/mfa');
  },
  { allowPendingPassword: true },
);
