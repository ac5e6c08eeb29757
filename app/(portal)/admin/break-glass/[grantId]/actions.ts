'use server';

import { revalidatePath } from 'next/cache';
import type { FormState } from '@/components/chart/action-form';
import { guardedAction } from '@/lib/features/auth/entry';
import { revealGrantSealed, reviewGrant, verdictLabels, type GrantSealed } from '@/lib/features/break-glass';

export const reviewGrantAction = guardedAction(
  reviewGrant,
  (_viewer, _previous: FormState, form: FormData) => ({
    grantId: form.get('grantId') ?? undefined,
    verdict: form.get('verdict') ?? undefined,
    comment: form.get('comment') ?? undefined,
  }),
  (result): FormState => {
    if (!result.ok) return { ok: false, message: result.message, submittedAt: Date.now() };
    revalidatePath('/admin/break-glass');
    revalidatePath(`/admin/break-glass/${result.value.grantId}`);
    const recorded = `Recorded: ${verdictLabels[result.value.verdict]}.`;
    const message = result.value.commentKept ? recorded : `${recorded} The patient’s record has been erased, so the comment was not kept.`;
    return { ok: true, message, submittedAt: Date.now() };
  },
);

export interface RevealGrantState {
  sealed: GrantSealed | null;
  message: string | null;
}

/** "Show the justification and MRN": a POST with the stated reason; lib/features/break-glass decides and records it. */
export const revealGrantAction = guardedAction(
  revealGrantSealed,
  (_viewer, _previous: RevealGrantState, form: FormData) => ({ grantId: form.get('grantId') ?? undefined, reason: form.get('reason') || undefined }),
  (result): RevealGrantState => (result.ok ? { sealed: result.value, message: null } : { sealed: null, message: result.message }),
);
