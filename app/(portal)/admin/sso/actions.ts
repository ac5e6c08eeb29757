'use server';

import { revalidatePath } from 'next/cache';
import { formStateOf, formText as text, type AdminFormState } from '@/components/admin/form-state';
import { addSsoMapping, removeSsoMapping } from '@/lib/features/admin';
import { guardedAction } from '@/lib/features/auth/entry';

/* Thin actions: lib/features/admin validates, checks permission, self-escalation and re-authentication, and audits. */
const mappingInput = (_viewer: unknown, _previous: AdminFormState, form: FormData) => ({
  claimValue: text(form, 'claimValue'),
  roleName: text(form, 'roleName'),
  adminPassword: text(form, 'adminPassword'),
});

const answer = (result: Parameters<typeof formStateOf>[0], _previous: AdminFormState, form: FormData) => {
  if (result.ok) revalidatePath('/admin/sso');
  return formStateOf(result, form);
};

export const addSsoMappingAction = guardedAction(addSsoMapping, mappingInput, answer);
export const removeSsoMappingAction = guardedAction(removeSsoMapping, mappingInput, answer);
