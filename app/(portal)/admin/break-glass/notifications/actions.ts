'use server';

import { revalidatePath } from 'next/cache';
import type { FormState } from '@/components/chart/action-form';
import { requireViewer } from '@/lib/features/auth/current';
import { markNotificationsRead } from '@/lib/features/notify';

export async function markReadAction(): Promise<FormState> {
  const viewer = await requireViewer();
  const marked = await markNotificationsRead(viewer);
  revalidatePath('/', 'layout');
  return { ok: true, message: marked ? `Marked ${marked} as read.` : 'Nothing new.', submittedAt: Date.now() };
}
