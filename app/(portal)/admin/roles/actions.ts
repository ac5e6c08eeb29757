'use server';

import { revalidatePath } from 'next/cache';
import { formStateOf, formText as text, type AdminFormState } from '@/components/admin/form-state';
import { permissionCategories } from '@/lib/domain/access/permissions';
import { updateRolePermissions } from '@/lib/features/admin';
import { requireViewer } from '@/lib/features/auth/current';

export async function updateRoleAction(_previous: AdminFormState, form: FormData): Promise<AdminFormState> {
  const viewer = await requireViewer();
  const name = text(form, 'name');
  const result = await updateRolePermissions(viewer, {
    name,
    expectedUpdatedAt: text(form, 'expectedUpdatedAt'),
    permissions: Object.fromEntries(permissionCategories.map((category) => [category, text(form, category) ?? ''])),
    adminPassword: text(form, 'adminPassword'),
  });
  if (result.ok) revalidatePath('/admin/roles', 'layout');
  return formStateOf(result, form);
}
