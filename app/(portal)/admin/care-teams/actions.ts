'use server';

import { revalidatePath } from 'next/cache';
import { redirect } from 'next/navigation';
import { formStateOf, formText as text, type AdminFormState } from '@/components/admin/form-state';
import { assignToCareTeam, findPatient, removeFromCareTeam } from '@/lib/features/admin';
import { requireViewer } from '@/lib/features/auth/current';

/** The MRN travels in the form body, never in a URL: the page is then addressed by patient id. */
export async function findPatientAction(_previous: AdminFormState, form: FormData): Promise<AdminFormState> {
  const viewer = await requireViewer();
  const result = await findPatient(viewer, text(form, 'mrn'));
  if (!result.ok) return formStateOf(result, form);
  redirect(`/admin/care-teams?patient=${result.value.patientId}`);
}

export async function assignAction(_previous: AdminFormState, form: FormData): Promise<AdminFormState> {
  const viewer = await requireViewer();
  const result = await assignToCareTeam(viewer, {
    patientId: text(form, 'patientId'),
    userId: text(form, 'userId'),
    relationship: text(form, 'relationship'),
  });
  if (result.ok) revalidatePath('/admin', 'layout');
  return formStateOf(result, form);
}

export async function removeAssignmentAction(_previous: AdminFormState, form: FormData): Promise<AdminFormState> {
  const viewer = await requireViewer();
  const result = await removeFromCareTeam(viewer, { assignmentId: text(form, 'assignmentId') });
  if (result.ok) revalidatePath('/admin', 'layout');
  return formStateOf(result, form);
}
