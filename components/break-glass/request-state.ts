import type { GrantField } from '@/lib/features/break-glass/request';

/** What the emergency-access form shows after a refused request. */
export interface RequestState {
  message: string | null;
  fieldErrors: Partial<Record<GrantField, string>>;
  /** What was entered, to show again after a refusal (never the password). */
  values: { reasonCode: string; justification: string };
  submittedAt: number;
}

export const initialRequestState: RequestState = { message: null, fieldErrors: {}, values: { reasonCode: '', justification: '' }, submittedAt: 0 };

const text = (value: FormDataEntryValue | null, max: number) => (typeof value === 'string' ? value.slice(0, max) : '');

/** The request as the form sent it; lib/features/break-glass checks every field again. */
export function grantRequestOf(form: FormData) {
  return {
    patientId: text(form.get('patientId'), 64),
    reasonCode: form.get('reasonCode') ?? undefined,
    justification: form.get('justification') ?? undefined,
    secret: form.get('secret') ?? undefined,
  };
}

/** A refusal as form state, with the reason and justification put back. */
export function refusedRequestState(refusal: { message: string; fieldErrors?: Record<string, string> }, form: FormData): RequestState {
  return {
    message: refusal.message,
    fieldErrors: refusal.fieldErrors ?? {},
    values: { reasonCode: text(form.get('reasonCode'), 64), justification: text(form.get('justification'), 5000) },
    submittedAt: Date.now(),
  };
}
