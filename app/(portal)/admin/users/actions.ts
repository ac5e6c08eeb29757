'use server';

import { revalidatePath } from 'next/cache';
import { redirect } from 'next/navigation';
import { formStateOf, formText as text, type AdminFormState } from '@/components/admin/form-state';
import { createUser, resetUserPassword, setUserDisabled, setUserRoles } from '@/lib/features/admin';
import { guardedAction } from '@/lib/features/auth/entry';

/*
 * Thin actions: each hands the raw form to lib/features/admin, which validates it with zod,
 * checks the admin permission and the self-escalation rule, and audits. Nothing here trusts a
 * hidden field.
 */
export const createUserAction = guardedAction(
  createUser,
  (_viewer, _previous: AdminFormState, form: FormData) => ({
    email: text(form, 'email'),
    displayName: text(form, 'displayName'),
    password: text(form, 'password'),
    passwordConfirm: text(form, 'passwordConfirm'),
    roles: form.getAll('roles'),
    adminPassword: text(form, 'adminPassword'),
  }),
  (result, _previous, form): AdminFormState => {
    // Refused, or filed for a second administrator (no account yet): the form says which.
    if (!result.ok || !result.value.id) return formStateOf(result, form);
    revalidatePath('/admin/users');
    redirect(`/admin/users/${result.value.id}`);
  },
);

/** After a change to one account, its page shows the change. */
const accountPageState = (result: Parameters<typeof formStateOf>[0], form: FormData): AdminFormState => {
  if (result.ok) revalidatePath(`/admin/users/${text(form, 'userId')}`);
  return formStateOf(result, form);
};

export const setRolesAction = guardedAction(
  setUserRoles,
  (_viewer, _previous: AdminFormState, form: FormData) => ({ userId: text(form, 'userId'), roles: form.getAll('roles'), adminPassword: text(form, 'adminPassword') }),
  (result, _previous, form) => accountPageState(result, form),
);

export const setDisabledAction = guardedAction(
  setUserDisabled,
  (_viewer, _previous: AdminFormState, form: FormData) => ({
    userId: text(form, 'userId'),
    disabled: text(form, 'disabled'),
    reason: text(form, 'reason') || undefined,
    adminPassword: text(form, 'adminPassword'),
  }),
  (result, _previous, form) => accountPageState(result, form),
);

export const resetPasswordAction = guardedAction(
  resetUserPassword,
  (_viewer, _previous: AdminFormState, form: FormData) => ({
    userId: text(form, 'userId'),
    password: text(form, 'password'),
    passwordConfirm: text(form, 'passwordConfirm'),
    adminPassword: text(form, 'adminPassword'),
  }),
  (result, _previous, form) => accountPageState(result, form),
);
