'use server';

import { revalidatePath } from 'next/cache';
import { formStateOf, type AdminFormState } from '@/components/admin/form-state';
import { updateMonitorSettings } from '@/lib/features/admin/monitor-settings';
import { guardedAction } from '@/lib/features/auth/entry';

/* Thin action: lib/features/admin/monitor-settings validates every field, checks permission and re-authentication, and audits. */
export const updateMonitorSettingsAction = guardedAction(
  updateMonitorSettings,
  (_viewer, _previous: AdminFormState, form: FormData) =>
    Object.fromEntries([...form.entries()].filter(([key, value]) => !key.startsWith('$') && typeof value === 'string')),
  (result, _previous, form) => {
    if (result.ok) revalidatePath('/admin/monitoring');
    return formStateOf(result, form);
  },
);
