'use server';

import { redirect } from 'next/navigation';
import { requireViewer } from '@/lib/features/auth/current';
import { requestGrant, type GrantField } from '@/lib/features/break-glass';

export interface RequestState {
  message: string | null;
  fieldErrors: Partial<Record<GrantField, string>>;
  /** What was entered, to show again after a refusal (never the password). */
  values: { reasonCode: string; justification: string };
  submittedAt: number;
}

const text = (value: FormDataEntryValue | null, max: number) => (typeof value === 'string' ? value.slice(0, max) : '');

/** Thin on purpose: lib/features/break-glass re-checks the role, the patient, the input and the password. */
export async function requestBreakGlassAction(_previous: RequestState, form: FormData): Promise<RequestState> {
  const viewer = await requireViewer();
  const result = await requestGrant(viewer, {
    patientId: text(form.get('patientId'), 64),
    reasonCode: form.get('reasonCode') ?? undefined,
    justification: form.get('justification') ?? undefined,
    secret: form.get('secret') ?? undefined,
  });
  if (result.ok) redirect(`/patients/${result.patientId}`);
  return {
    message: result.message,
    fieldErrors: result.fieldErrors ?? {},
    values: { reasonCode: text(form.get('reasonCode'), 64), justification: text(form.get('justification'), 5000) },
    submittedAt: Date.now(),
  };
}
