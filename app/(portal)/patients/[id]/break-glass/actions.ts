'use server';

import { redirect } from 'next/navigation';
import { grantRequestOf, refusedRequestState, type RequestState } from '@/components/break-glass/request-state';
import { guardedAction } from '@/lib/features/auth/entry';
import { requestGrant } from '@/lib/features/break-glass';

/** Thin on purpose: lib/features/break-glass re-checks the role, the patient, the input and the password. */
export const requestBreakGlassAction = guardedAction(
  requestGrant,
  (_viewer, _previous: RequestState, form: FormData) => grantRequestOf(form),
  (result, _previous, form): RequestState => {
    if (result.ok) redirect(`/patients/${result.value.patientId}`);
    return refusedRequestState(result, form);
  },
);
