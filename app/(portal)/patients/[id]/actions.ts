'use server';

import { revalidatePath } from 'next/cache';
import { z } from 'zod';
import { requireViewer } from '@/lib/features/auth/current';
import { addEntry, setBillingStatus, updateEntry } from '@/lib/features/records';
import { entryFromForm, statusChanges } from '@/lib/features/records/forms';

export interface FormState {
  ok: boolean;
  message: string | null;
  /** Changes on every submit so the form can reset after a success. */
  submittedAt: number;
}

const addableSections = z.enum(['progress_notes', 'nursing_notes', 'vitals', 'allergies', 'medications', 'problems']);
const statusSections = z.enum(['medications', 'problems']);
const UNKNOWN_FORM = 'This form could not be read. Reload the page and try again.';

const done = (ok: boolean, message: string | null): FormState => ({ ok, message, submittedAt: Date.now() });

/** Every action re-checks the session and hands ids to lib/features/records, which re-authorizes them. */
export async function addEntryAction(_previous: FormState, form: FormData): Promise<FormState> {
  const viewer = await requireViewer();
  const section = addableSections.safeParse(form.get('section'));
  const patientId = String(form.get('patientId') ?? '');
  if (!section.success) return done(false, UNKNOWN_FORM);
  const result = await addEntry(viewer, patientId, section.data, entryFromForm(section.data, form, viewer));
  if (!result.ok) return done(false, result.message);
  revalidatePath(`/patients/${patientId}`);
  return done(true, 'Saved.');
}

export async function changeStatusAction(_previous: FormState, form: FormData): Promise<FormState> {
  const viewer = await requireViewer();
  const section = statusSections.safeParse(form.get('section'));
  const version = z.coerce.number().int().positive().safeParse(form.get('version'));
  if (!section.success || !version.success) return done(false, UNKNOWN_FORM);
  const change = statusChanges[section.data].safeParse({ status: form.get('status') });
  if (!change.success) return done(false, 'Choose a status from the list.');
  const patientId = String(form.get('patientId') ?? '');
  const result = await updateEntry(viewer, patientId, section.data, String(form.get('recordId') ?? ''), version.data, change.data);
  if (!result.ok) return done(false, result.message);
  revalidatePath(`/patients/${patientId}`);
  return done(true, 'Updated.');
}

export async function billingStatusAction(_previous: FormState, form: FormData): Promise<FormState> {
  const viewer = await requireViewer();
  const version = z.coerce.number().int().positive().safeParse(form.get('version'));
  if (!version.success) return done(false, UNKNOWN_FORM);
  const patientId = String(form.get('patientId') ?? '');
  const result = await setBillingStatus(viewer, patientId, String(form.get('recordId') ?? ''), version.data, form.get('status'));
  if (!result.ok) return done(false, result.message);
  revalidatePath(`/patients/${patientId}`);
  return done(true, 'Billing status updated.');
}
