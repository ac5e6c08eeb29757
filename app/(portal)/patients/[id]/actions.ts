'use server';

import { revalidatePath } from 'next/cache';
import { z } from 'zod';
import type { FormState } from '@/components/chart/action-form';
import type { Result } from '@/lib/domain/result';
import { guardedAction } from '@/lib/features/auth/entry';
import { saveDraft } from '@/lib/features/drafts';
import { addEntry, setBillingStatus, updateEntry } from '@/lib/features/records';
import { entryFromForm, statusChanges } from '@/lib/features/records/forms';

const addableSections = z.enum(['progress_notes', 'nursing_notes', 'vitals', 'allergies', 'medications', 'problems']);
const statusSections = z.enum(['medications', 'problems']);
const version = z.coerce.number().int().positive();
const text = (form: FormData, name: string) => String(form.get(name) ?? '');

/**
 * Ids go to lib/features/records as the form sent them and are re-authorized there. A form no
 * chart page sends (unknown section, bad version, a status off the list) is passed on as
 * nothing, which the write answers as an unreadable form.
 */
const saved = (success: string) => (result: Result<unknown, string>, _previous: FormState, form: FormData): FormState => {
  if (!result.ok) return { ok: false, message: result.message, submittedAt: Date.now() };
  revalidatePath(`/patients/${text(form, 'patientId')}`);
  return { ok: true, message: success, submittedAt: Date.now() };
};

export const addEntryAction = guardedAction(
  addEntry,
  (viewer, _previous: FormState, form: FormData) => {
    const section = addableSections.safeParse(form.get('section'));
    if (!section.success) return null;
    return { patientId: text(form, 'patientId'), section: section.data, body: entryFromForm(section.data, form, viewer) };
  },
  saved('Saved.'),
);

export const changeStatusAction = guardedAction(
  updateEntry,
  (_viewer, _previous: FormState, form: FormData) => {
    const section = statusSections.safeParse(form.get('section'));
    const expectedVersion = version.safeParse(form.get('version'));
    if (!section.success || !expectedVersion.success) return null;
    const change = statusChanges[section.data].safeParse({ status: form.get('status') });
    if (!change.success) return null;
    return { patientId: text(form, 'patientId'), section: section.data, recordId: text(form, 'recordId'), expectedVersion: expectedVersion.data, changes: change.data };
  },
  saved('Updated.'),
);

export const billingStatusAction = guardedAction(
  setBillingStatus,
  (_viewer, _previous: FormState, form: FormData) => {
    const expectedVersion = version.safeParse(form.get('version'));
    if (!expectedVersion.success) return null;
    return { patientId: text(form, 'patientId'), encounterId: text(form, 'recordId'), expectedVersion: expectedVersion.data, status: form.get('status') };
  },
  saved('Billing status updated.'),
);

/** Keeps a note being typed as the viewer's draft; the operation checks they may write that note here. */
export const saveDraftAction = guardedAction(
  saveDraft,
  (_viewer, input: { patientId: string; form: string; text: string }) => input,
  (result) =>
    result.ok
      ? { ok: true, message: result.value ? `Draft saved at ${result.value.savedAt.slice(11, 16)} UTC.` : 'Draft cleared.' }
      : { ok: false, message: result.message },
);
