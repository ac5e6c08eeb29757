'use server';

import { redirect } from 'next/navigation';
import type { FormState } from '@/components/chart/action-form';
import { guardedAction } from '@/lib/features/auth/entry';
import { launchApp } from '@/lib/features/fhir';

/** "Open" on the chart's apps strip: lib/features/fhir/launch.ts decides and audits; the browser goes to the app. */
export const launchAppAction = guardedAction(
  launchApp,
  (_viewer, _previous: FormState, form: FormData) => ({
    clientId: String(form.get('clientId') ?? ''),
    patientId: String(form.get('patientId') ?? ''),
    fhirBase: String(form.get('fhirBase') ?? ''),
  }),
  (result): FormState => {
    if (result.ok) redirect(result.value.redirectTo);
    return { ok: false, message: result.message, submittedAt: Date.now() };
  },
);
