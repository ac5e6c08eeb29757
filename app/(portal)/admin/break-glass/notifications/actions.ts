'use server';

import { revalidatePath } from 'next/cache';
import type { FormState } from '@/components/chart/action-form';
import { guardedAction } from '@/lib/features/auth/entry';
import { markNotificationsRead } from '@/lib/features/notify';

export const markReadAction = guardedAction(
  markNotificationsRead,
  () => undefined,
  (result): FormState => {
    if (!result.ok) return { ok: false, message: result.message, submittedAt: Date.now() };
    revalidatePath('/', 'layout');
    return { ok: true, message: result.value.marked ? `Marked ${result.value.marked} as read.` : 'Nothing new.', submittedAt: Date.now() };
  },
);
