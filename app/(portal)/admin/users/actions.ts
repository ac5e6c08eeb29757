'use server';

import { revalidatePath } from 'next/cache';
import { redirect } from 'next/navigation';
import { formStateOf, formText as text, type AdminFormState } from '@/components/admin/form-state';
import { createUser, resetUserPassword, setUserDisabled, setUserRoles } from '@/lib/features/admin';
import { requireViewer } from '@/lib/features/auth/current';

/*
 * Thin actions: each re-checks the session (requireViewer) and hands the raw form to lib/features/admin,
 * which validates it with zod, checks the admin permission and the self-escalation rule, and
 * audits. Nothing here trusts a hidden field.
 */
export async function createUserAction(_previous: AdminFormState, form: FormData): Promise<AdminFormState> {
  const viewer = await requireViewer();
  const result = await createUser(viewer, {
    email: text(form, 'email'),
    displayName: text(form, 'displayName'),
    password: text(form, 'password'),
    passwordConfirm: text(form, 'passwordConfirm'),
    roles: form.getAll('roles'),
    adminPassword: text(form, 'adminPassword'),
  });
  if (!result.ok) return formStateOf(result, form);
  revalidatePath('/admin/users');
  redirect(`/admin/users/${result.value.id}`);
}

export async function setRolesAction(_previous: AdminFormState, form: FormData): Promise<AdminFormState> {
  const viewer = await requireViewer();
  const userId = text(form, 'userId');
  const result = await setUserRoles(viewer, { userId, roles: form.getAll('roles'), adminPassword: text(form, 'adminPassword') });
  if (result.ok) revalidatePath(`/admin/users/${userId}`);
  return formStateOf(result, form);
}

export async function setDisabledAction(_previous: AdminFormState, form: FormData): Promise<AdminFormState> {
  const viewer = await requireViewer();
  const userId = text(form, 'userId');
  const result = await setUserDisabled(viewer, {
    userId,
    disabled: text(form, 'disabled'),
    reason: text(form, 'reason') || undefined,
    adminPassword: text(form, 'adminPassword'),
  });
  if (result.ok) revalidatePath(`/admin/users/${userId}`);
  return formStateOf(result, form);
}

export async function resetPasswordAction(_previous: AdminFormState, form: FormData): Promise<AdminFormState> {
  const viewer = await requireViewer();
  const userId = text(form, 'userId');
  const result = await resetUserPassword(viewer, {
    userId,
    password: text(form, 'password'),
    passwordConfirm: text(form, 'passwordConfirm'),
    adminPassword: text(form, 'adminPassword'),
  });
  if (result.ok) revalidatePath(`/admin/users/${userId}`);
  return formStateOf(result, form);
}
