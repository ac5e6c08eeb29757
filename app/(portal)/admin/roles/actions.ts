'use server';

import { revalidatePath } from 'next/cache';
import { formStateOf, formText as text, type AdminFormState } from '@/components/admin/form-state';
import { permissionCategories } from '@/lib/domain/access/permissions';
import { updateRolePermissions } from '@/lib/features/admin';
import { guardedAction } from '@/lib/features/auth/entry';

export const updateRoleAction = guardedAction(
  updateRolePermissions,
  (_viewer, _previous: AdminFormState, form: FormData) => ({
    name: text(form, 'name'),
    expectedUpdatedAt: text(form, 'expectedUpdatedAt'),
    permissions: Object.fromEntries(permissionCategories.map((category) => [category, text(form, category) ?? ''])),
    adminPassword: text(form, 'adminPassword'),
  }),
  (result, _previous, form) => {
    if (result.ok) revalidatePath('/admin/roles', 'layout');
    return formStateOf(result, form);
  },
);
