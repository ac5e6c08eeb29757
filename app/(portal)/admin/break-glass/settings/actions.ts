'use server';

import { revalidatePath } from 'next/cache';
import type { FormState } from '@/components/chart/action-form';
import { guardedAction } from '@/lib/features/auth/entry';
import { setWindowMinutes } from '@/lib/features/break-glass';

const field = (form: FormData, name: string) => form.get(name) ?? undefined;

export const setWindowAction = guardedAction(
  setWindowMinutes,
  (_viewer, _previous: FormState, form: FormData) => ({ minutes: field(form, 'minutes'), adminPassword: field(form, 'adminPassword') || undefined }),
  (result): FormState => {
    if (!result.ok) return { ok: false, message: result.message, submittedAt: Date.now() };
    revalidatePath('/admin/break-glass/settings');
    return { ok: true, message: `Saved: new grants last ${result.value.minutes} minutes.`, submittedAt: Date.now() };
  },
);
