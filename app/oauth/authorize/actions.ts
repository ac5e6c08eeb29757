'use server';

import { redirect } from 'next/navigation';
import { guardedAction } from '@/lib/features/auth/entry';
import { approveApp } from '@/lib/features/fhir';

const fields = ['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'aud', 'code_challenge', 'code_challenge_method', 'fhirBase'] as const;

/** "Allow": the consent form's fields go to the operation as sent, and are re-checked there. */
export const approveAppAction = guardedAction(
  approveApp,
  (_viewer, form: FormData) => ({
    ...Object.fromEntries(fields.map((name) => [name, String(form.get(name) ?? '')])),
    patient: form.get('patient') ? String(form.get('patient')) : null,
  }),
  (result, form: FormData) => {
    if (result.ok) redirect(result.value.redirectTo);
    const back = new URLSearchParams(fields.filter((f) => f !== 'fhirBase').map((name) => [name, String(form.get(name) ?? '')]));
    back.set('refused', result.error);
    redirect(`/oauth/authorize?${back.toString()}`);
  },
);
