'use server';

import { revalidatePath } from 'next/cache';
import { formStateOf, formText as text, type AdminFormState } from '@/components/admin/form-state';
import { guardedAction } from '@/lib/features/auth/entry';
import { issueApiClient, revokeApiClient, setApiClientPatients } from '@/lib/features/devices/api-clients';

/* Thin actions: lib/features/devices validates, checks permission and re-authentication, and audits. */
export const issueApiClientAction = guardedAction(
  issueApiClient,
  (_viewer, _previous: AdminFormState, form: FormData) => ({
    name: text(form, 'name'),
    signingKey: text(form, 'signingKey'),
    patients: text(form, 'patients'),
    adminPassword: text(form, 'adminPassword'),
  }),
  (result, _previous, form): AdminFormState => {
    if (!result.ok) return formStateOf(result, form);
    revalidatePath('/admin/api-clients');
    return {
      ...formStateOf(result),
      reveal: {
        label: `Credential for ${result.value.client.name}`,
        value: result.value.credential,
        note: 'Copy it into the device’s configuration now. It is shown only this once: Vigil keeps only a hash of the secret. A lost credential cannot be recovered — revoke the client and issue a new one.',
      },
    };
  },
);

export const revokeApiClientAction = guardedAction(
  revokeApiClient,
  (_viewer, _previous: AdminFormState, form: FormData) => ({ clientId: text(form, 'clientId'), adminPassword: text(form, 'adminPassword') }),
  (result, _previous, form) => {
    if (result.ok) revalidatePath('/admin/api-clients');
    return formStateOf(result, form);
  },
);

export const setApiClientPatientsAction = guardedAction(
  setApiClientPatients,
  (_viewer, _previous: AdminFormState, form: FormData) => ({ clientId: text(form, 'clientId'), patients: text(form, 'patients'), adminPassword: text(form, 'adminPassword') }),
  (result, _previous, form) => {
    if (result.ok) revalidatePath('/admin/api-clients');
    return formStateOf(result, form);
  },
);
