'use server';

import { revalidatePath } from 'next/cache';
import type { FormState } from '@/components/chart/action-form';
import { requireViewer } from '@/lib/features/auth/current';
import { resolveIncident } from '@/lib/features/monitor';

/** Thin: re-check the session, hand the raw form to lib/features/monitor (which validates, authorizes and audits). */
export async function resolveIncidentAction(_previous: FormState, form: FormData): Promise<FormState> {
  const viewer = await requireViewer();
  const incidentId = String(form.get('incidentId') ?? '');
  const result = await resolveIncident(viewer, {
    incidentId,
    decision: form.get('decision') ?? undefined,
    comment: form.get('comment') ?? undefined,
  });
  if (result.ok) {
    revalidatePath(`/admin/incidents/${incidentId}`);
    revalidatePath('/admin/incidents');
  }
  return { ok: result.ok, message: result.message, submittedAt: Date.now() };
}
