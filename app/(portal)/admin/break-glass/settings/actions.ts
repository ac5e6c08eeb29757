'use server';

import { revalidatePath } from 'next/cache';
import type { FormState } from '@/components/chart/action-form';
import { requireViewer } from '@/lib/features/auth/current';
import { setWindowMinutes } from '@/lib/features/break-glass';

export async function setWindowAction(_previous: FormState, form: FormData): Promise<FormState> {
  const viewer = await requireViewer();
  const result = await setWindowMinutes(viewer, form.get('minutes') ?? undefined);
  if (!result.ok) return { ok: false, message: result.message, submittedAt: Date.now() };
  revalidatePath('/admin/break-glass/settings');
  return { ok: true, message: `Saved: new grants last ${result.minutes} minutes.`, submittedAt: Date.now() };
}
