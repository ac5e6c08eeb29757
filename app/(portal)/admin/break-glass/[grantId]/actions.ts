'use server';

import { revalidatePath } from 'next/cache';
import type { FormState } from '@/components/chart/action-form';
import { requireViewer } from '@/lib/features/auth/current';
import { reviewGrant, verdictLabels } from '@/lib/features/break-glass';

export async function reviewGrantAction(_previous: FormState, form: FormData): Promise<FormState> {
  const viewer = await requireViewer();
  const result = await reviewGrant(viewer, {
    grantId: form.get('grantId') ?? undefined,
    verdict: form.get('verdict') ?? undefined,
    comment: form.get('comment') ?? undefined,
  });
  if (!result.ok) return { ok: false, message: result.message, submittedAt: Date.now() };
  revalidatePath('/admin/break-glass');
  revalidatePath(`/admin/break-glass/${result.value.grantId}`);
  const recorded = `Recorded: ${verdictLabels[result.value.verdict]}.`;
  const message = result.value.commentKept ? recorded : `${recorded} The patient’s record has been erased, so the comment was not kept.`;
  return { ok: true, message, submittedAt: Date.now() };
}
