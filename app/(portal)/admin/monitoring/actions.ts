'use server';

import { revalidatePath } from 'next/cache';
import { formStateOf, type AdminFormState } from '@/components/admin/form-state';
import { updateMonitorSettings } from '@/lib/features/admin/monitor-settings';
import { requireViewer } from '@/lib/features/auth/current';

/* Thin action: lib/features/admin/monitor-settings validates every field, checks permission and re-authentication, and audits. */
export async function updateMonitorSettingsAction(_previous: AdminFormState, form: FormData): Promise<AdminFormState> {
  const viewer = await requireViewer();
  const fields = Object.fromEntries([...form.entries()].filter(([key, value]) => !key.startsWith('$') && typeof value === 'string'));
  const result = await updateMonitorSettings(viewer, fields);
  if (result.ok) revalidatePath('/admin/monitoring');
  return formStateOf(result, form);
}
