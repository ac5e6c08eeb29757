'use server';

import { revalidatePath } from 'next/cache';
import type { FormState } from '@/components/chart/action-form';
import { guardedAction } from '@/lib/features/auth/entry';
import { resolveIncident } from '@/lib/features/monitor';

/** Thin: hand the raw form to lib/features/monitor, which validates, authorizes and audits. */
export const resolveIncidentAction = guardedAction(
  resolveIncident,
  (_viewer, _previous: FormState, form: FormData) => ({
    incidentId: String(form.get('incidentId') ?? ''),
    decision: form.get('decision') ?? undefined,
    comment: form.get('comment') ?? undefined,
  }),
  (result, _previous, form): FormState => {
    if (!result.ok) return { ok: false, message: result.message, submittedAt: Date.now() };
    revalidatePath(`/admin/incidents/${String(form.get('incidentId') ?? '')}`);
    revalidatePath('/admin/incidents');
    return { ok: true, message: result.message ?? 'Decision recorded.', submittedAt: Date.now() };
  },
);
