'use server';

import { redirect } from 'next/navigation';
import { guardedAction } from '@/lib/features/auth/entry';
import { approveApp } from '@/lib/features/fhir';

const fields = ['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'aud', 'code_challenge', 'code_challenge_method', 'fhirBase'] as const;
const optional = ['launch'] as const;

/** "Allow": the consent form's fields go to the operation as sent, and are re-checked there. */
export const approveAppAction = guardedAction(
  approveApp,
  (_viewer, form: FormData) => ({
    ...Object.fromEntries(fields.map((name) => [name, String(form.get(name) ?? '')])),
    ...Object.fromEntries(optional.filter((name) => form.get(name)).map((name) => [name, String(form.get(name))])),
    patient: form.get('patient') ? String(form.get('patient')) : null,
  }),
  (result, form: FormData) => {
    if (result.ok) redirect(result.value.redirectTo);
    const back = new URLSearchParams([...fields.filter((f) => f !== 'fhirBase'), ...optional].filter((name) => form.get(name) !== null).map((name) => [name, String(form.get(name) ?? '')]));
    back.set('refused', result.error === 'invalid' && form.get('launch') ? 'launch' : result.error);
    redirect(`/oauth/authorize?${back.toString()}`);
  },
);
