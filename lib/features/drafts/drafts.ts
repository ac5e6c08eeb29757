import 'server-only';
import { and, eq, gt, lte } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable, Tx } from '@/db/client';
import { drafts, patients } from '@/db/schema';
import { randomUUID } from 'node:crypto';
import { decide } from '@/lib/domain/access/policy';
import type { Viewer } from '@/lib/domain/access/viewer';
import { sectionPermission } from '@/lib/domain/access/roles';
import { auditActions } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { operation, type Verdict } from '@/lib/pipeline/operation';
import { loadRelationship } from '@/lib/pipeline/relationship';
import { DecryptionError, getPatientCipher } from '@/lib/platform/crypto';

/**
 * Drafts of chart forms that survive the idle timeout. While a clinician types, the text is
 * saved here: on the server (never in the browser's storage), sealed with the patient's data
 * key, bound to this user (not the session, which the timeout ends), and offered back when the
 * same user opens the chart again. A draft lasts DRAFT_LIFETIME_MS from its last save; adding
 * the entry or clearing the text discards it, and crypto-shredding the patient erases it.
 *
 * Only someone who may write the form's section to this chart now may keep a draft of it, so a
 * draft never outlives the access that made it useful. Saving is audited (with no text) but is
 * neither a chart write nor a disclosure: nobody else ever reads a draft.
 */
export const DRAFT_LIFETIME_MS = 12 * 3_600_000;

/** The forms a draft may belong to: the free-text notes, where losing work hurts. */
export const draftForms = ['progress_notes', 'nursing_notes'] as const;
export type DraftForm = (typeof draftForms)[number];

export const draftMessages = {
  denied: 'Drafts are kept only for notes you may write on this chart.',
  invalid: 'This draft could not be saved.',
} as const;

const draftKey = z.object({ patientId: z.uuid(), form: z.enum(draftForms) });
const saveInput = draftKey.extend({ text: z.string().max(10_000, 'A note is at most 10,000 characters.') });

export interface Draft {
  form: DraftForm;
  text: string;
  savedAt: string;
}

const target = (raw: unknown) => (raw as { patientId?: unknown } | null)?.patientId;

/** May the viewer write this form's section to this chart now (care team or this sign-in's grant)? */
async function mayWrite(tx: Tx, viewer: Viewer, patientId: string, form: DraftForm, at: Date) {
  const [patient] = await tx.select({ id: patients.id }).from(patients).where(eq(patients.id, patientId)).limit(1);
  if (!patient) return false;
  const relationship = await loadRelationship(tx, viewer, patientId, at);
  return decide(viewer, relationship, 'write', form, sectionPermission(form)).allowed;
}

/** Saves (or, for empty text, discards) the viewer's draft of one form on one chart. */
export const saveDraft = operation({
  name: 'drafts.save',
  action: (raw) => (String((raw as { text?: unknown } | null)?.text ?? '').trim() ? auditActions.draft.save : auditActions.draft.discard),
  resourceType: 'draft',
  deniedMessage: draftMessages.denied,
  target,
  input: saveInput,
  invalid: (error) => fail('invalid', error.issues[0]?.message ?? draftMessages.invalid),
  authorize: async ({ tx, viewer, input, at }): Promise<Verdict<null>> =>
    (await mayWrite(tx, viewer, input.patientId, input.form, at))
      ? { allowed: true, facts: null }
      : { allowed: false, reason: 'no_write_access', patientId: null, resourceId: input.patientId },
  run: async ({ tx, viewer, input, at, audit }): Promise<Result<{ savedAt: string } | null>> => {
    const owner = and(eq(drafts.userId, viewer.userId), eq(drafts.patientId, input.patientId), eq(drafts.form, input.form));
    if (!input.text.trim()) {
      await tx.delete(drafts).where(owner);
      await audit({ patientId: input.patientId, details: { form: input.form } });
      return ok(null);
    }
    const { cipher } = await getPatientCipher(tx, input.patientId);
    if (!cipher) return fail('unavailable', 'This draft could not be saved because the record cannot be written.');
    const [existing] = await tx.select({ id: drafts.id }).from(drafts).where(owner).limit(1);
    const id = existing?.id ?? randomUUID();
    const sealedText = cipher.seal('drafts', 'sealed_text', id, input.text);
    const expiresAt = new Date(at.getTime() + DRAFT_LIFETIME_MS);
    if (existing) await tx.update(drafts).set({ sealedText, savedAt: at, expiresAt }).where(eq(drafts.id, id));
    else await tx.insert(drafts).values({ id, userId: viewer.userId, patientId: input.patientId, form: input.form, sealedText, savedAt: at, expiresAt });
    await audit({ resourceId: id, patientId: input.patientId, details: { form: input.form, characters: input.text.length } });
    return ok({ savedAt: at.toISOString() });
  },
});

/**
 * The viewer's live drafts on a chart, opened for them alone; expired ones are deleted on the
 * way. Offering a draft back is audited; a chart with none leaves no entry.
 */
export const openDrafts = operation({
  name: 'drafts.open',
  action: auditActions.draft.offer,
  resourceType: 'draft',
  deniedMessage: draftMessages.denied,
  input: z.uuid(),
  audits: 'refusals',
  run: async ({ tx, viewer, input: patientId, at, audit }): Promise<Result<Draft[]>> => {
    // One statement: the expired drafts deleted in a data-modifying WITH (PostgreSQL runs it though
    // nothing reads it), and the live ones read; the read sees none of the deleted rows either way.
    const expired = tx.$with('expired').as(tx.delete(drafts).where(and(eq(drafts.userId, viewer.userId), lte(drafts.expiresAt, at))).returning({ id: drafts.id }));
    const rows = await tx
      .with(expired)
      .select()
      .from(drafts)
      .where(and(eq(drafts.userId, viewer.userId), eq(drafts.patientId, patientId), gt(drafts.expiresAt, at)));
    const offered: Draft[] = [];
    if (rows.length === 0) return ok(offered);
    const { cipher } = await getPatientCipher(tx, patientId);
    for (const row of rows) {
      if (!(draftForms as readonly string[]).includes(row.form) || !cipher) continue;
      if (!(await mayWrite(tx, viewer, patientId, row.form as DraftForm, at))) continue;
      try {
        offered.push({ form: row.form as DraftForm, text: cipher.open<string>('drafts', 'sealed_text', row.id, row.sealedText), savedAt: row.savedAt.toISOString() });
      } catch (error) {
        if (!(error instanceof DecryptionError)) throw error;
      }
    }
    if (offered.length) await audit({ patientId, details: { forms: offered.map((d) => d.form) } });
    return ok(offered);
  },
});

/** The entry was added: its draft has done its job (called in the write's transaction). */
export async function discardDraftIn(q: Queryable, userId: string, patientId: string, form: string): Promise<void> {
  await q.delete(drafts).where(and(eq(drafts.userId, userId), eq(drafts.patientId, patientId), eq(drafts.form, form)));
}
