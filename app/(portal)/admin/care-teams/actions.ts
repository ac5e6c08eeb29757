'use server';

import { revalidatePath } from 'next/cache';
import { redirect } from 'next/navigation';
import { formStateOf, formText as text, type AdminFormState } from '@/components/admin/form-state';
import { assignToCareTeam, findPatient, removeFromCareTeam } from '@/lib/features/admin';
import { guardedAction } from '@/lib/features/auth/entry';

/** The MRN travels in the form body, never in a URL: the page is then addressed by patient id. */
export const findPatientAction = guardedAction(
  findPatient,
  (_viewer, _previous: AdminFormState, form: FormData) => text(form, 'mrn'),
  (result, _previous, form): AdminFormState => {
    if (!result.ok) return formStateOf(result, form);
    redirect(`/admin/care-teams?patient=${result.value.patientId}`);
  },
);

/** A care-team change opens or closes charts on every admin page that lists assignments. */
const teamChangeState = (result: Parameters<typeof formStateOf>[0], form: FormData): AdminFormState => {
  if (result.ok) revalidatePath('/admin', 'layout');
  return formStateOf(result, form);
};

export const assignAction = guardedAction(
  assignToCareTeam,
  (_viewer, _previous: AdminFormState, form: FormData) => ({
    patientId: text(form, 'patientId'),
    userId: text(form, 'userId'),
    relationship: text(form, 'relationship'),
  }),
  (result, _previous, form) => teamChangeState(result, form),
);

export const removeAssignmentAction = guardedAction(
  removeFromCareTeam,
  (_viewer, _previous: AdminFormState, form: FormData) => ({ assignmentId: text(form, 'assignmentId') }),
  (result, _previous, form) => teamChangeState(result, form),
);
