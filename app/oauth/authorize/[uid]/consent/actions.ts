'use server';

import { headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { guardedAction } from '@/lib/features/auth/entry';
import { requestClient } from '@/lib/features/auth/request';
import { approveApp, resumeAuthorization } from '@/lib/features/fhir';

/**
 * "Allow": the interaction, its cookie and the patient go to the operation, which checks them all
 * again; then the provider resumes with this browser's cookies and the browser goes on to the app.
 */
export const approveAppAction = guardedAction(
  approveApp,
  (_viewer, form: FormData) => ({
    interaction: String(form.get('interaction') ?? ''),
    cookie: String(form.get('cookie') ?? ''),
    fhirBase: String(form.get('fhirBase') ?? ''),
    patient: form.get('patient') ? String(form.get('patient')) : null,
  }),
  async (result, form: FormData) => {
    const consent = `/oauth/authorize/${encodeURIComponent(String(form.get('interaction') ?? ''))}/consent`;
    if (!result.ok) redirect(`${consent}?refused=${result.error === 'invalid' && form.get('launch') ? 'launch' : result.error}`);
    const h = await headers();
    const next = await resumeAuthorization(result.value.redirectTo, h.get('cookie') ?? '', requestClient(h), String(form.get('fhirBase')));
    redirect(next ?? `${consent}?refused=expired`);
  },
);
