'use server';

import { revalidatePath } from 'next/cache';
import { formStateOf, formText as text, type AdminFormState } from '@/components/admin/form-state';
import { guardedAction } from '@/lib/features/auth/entry';
import { registerBackendClient, registerSmartApp, revokeSmartApp } from '@/lib/features/fhir';

/* Thin actions: lib/features/fhir/registry.ts validates, checks permission and re-authentication, and audits. */
const done = (result: Parameters<typeof formStateOf>[0], _previous: AdminFormState, form: FormData): AdminFormState => {
  if (result.ok) revalidatePath('/admin/smart-apps');
  return formStateOf(result, form);
};

export const registerSmartAppAction = guardedAction(
  registerSmartApp,
  (_viewer, _previous: AdminFormState, form: FormData) => ({
    clientId: text(form, 'clientId'),
    name: text(form, 'name'),
    redirectUris: text(form, 'redirectUris') ?? '',
    launchUrl: text(form, 'launchUrl') ?? '',
    scopes: form.getAll('scopes').filter((v) => typeof v === 'string'),
    adminPassword: text(form, 'adminPassword'),
  }),
  done,
);

export const registerBackendClientAction = guardedAction(
  registerBackendClient,
  (_viewer, _previous: AdminFormState, form: FormData) => ({
    clientId: text(form, 'clientId'),
    name: text(form, 'name'),
    jwks: text(form, 'jwks') ?? '',
    patientMrns: text(form, 'patientMrns') ?? '',
    sections: form.getAll('sections').filter((v) => typeof v === 'string'),
    adminPassword: text(form, 'adminPassword'),
  }),
  done,
);

export const revokeSmartAppAction = guardedAction(
  revokeSmartApp,
  (_viewer, _previous: AdminFormState, form: FormData) => ({ clientId: text(form, 'clientId'), adminPassword: text(form, 'adminPassword') }),
  done,
);
