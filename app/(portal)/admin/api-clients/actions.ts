'use server';

import { revalidatePath } from 'next/cache';
import { formStateOf, formText as text, type AdminFormState } from '@/components/admin/form-state';
import { issueApiClient, revokeApiClient } from '@/lib/features/devices/api-clients';
import { requireViewer } from '@/lib/features/auth/current';

/* Thin actions: lib/features/devices validates, checks permission and re-authentication, and audits. */
export async function issueApiClientAction(_previous: AdminFormState, form: FormData): Promise<AdminFormState> {
  const viewer = await requireViewer();
  const result = await issueApiClient(viewer, { name: text(form, 'name'), adminPassword: text(form, 'adminPassword') });
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
}

export async function revokeApiClientAction(_previous: AdminFormState, form: FormData): Promise<AdminFormState> {
  const viewer = await requireViewer();
  const result = await revokeApiClient(viewer, { clientId: text(form, 'clientId'), adminPassword: text(form, 'adminPassword') });
  if (result.ok) revalidatePath('/admin/api-clients');
  return formStateOf(result, form);
}
