import 'server-only';
import { and, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Tx } from '@/db/client';
import { encounters, patients } from '@/db/schema';
import { decide } from '@/lib/domain/access/policy';
import { chartPermission, type ChartPermission } from '@/lib/domain/access/permission-names';
import type { Viewer } from '@/lib/domain/access/viewer';
import { fail, ok, type Result } from '@/lib/domain/result';
import { DecryptionError, getPatientCipher, type PatientCipher } from '@/lib/platform/crypto';
import { billingStatuses } from '@/lib/domain/chart/sections';
import { operation, type Verdict } from '@/lib/pipeline/operation';
import { loadRelationship } from '@/lib/pipeline/relationship';
import { failure, messages, unreadableForm, type RecordFailure } from '@/lib/features/records/errors';
import { appendEntries, openPageForEdit, savePage } from '@/lib/features/records/pages';
import { entrySections, type EntrySection } from '@/lib/features/records/tables';
import { auditActions, sectionAction } from '@/lib/domain/audit/actions';
import { discardDraftIn } from '@/lib/features/drafts';

const uuid = z.string().uuid();

/**
 * Every write names a patient and a section; the body stays unread until the write is
 * authorized, so a refused request is answered "denied" whatever else is wrong with it.
 */
const entryRequest = z.object({ patientId: z.string(), section: z.string(), body: z.unknown() });
const updateRequest = z.object({
  patientId: z.string(),
  section: z.string(),
  recordId: z.string(),
  expectedVersion: z.number(),
  changes: z.record(z.string(), z.unknown()),
});
export const billingStatusSchema = z.enum(billingStatuses);
const billingRequest = z.object({ patientId: z.string(), encounterId: z.string(), expectedVersion: z.number(), status: z.unknown() });

/** What the policy allowed: the section (now known to be a table) and the grant it relied on, if any. */
interface Allowed {
  section: EntrySection;
  breakGlassGrantId: string | null;
}

/**
 * The shared check of every write: a section that is a table, an existing patient, and the
 * policy's verdict for this section. Ids from the browser are never trusted: a record id is
 * always re-checked against the patient it claims to belong to (in `run`).
 */
async function authorizeSection(
  tx: Tx,
  viewer: Viewer,
  at: Date,
  patientId: string,
  section: string,
  permission?: ChartPermission,
): Promise<Verdict<Allowed, RecordFailure>> {
  // A section name from a tampered form that names no writable table is refused, not trusted.
  if (!Object.hasOwn(entrySections, section)) return { allowed: false, reason: 'unknown_section', resourceId: null };
  const entrySection = section as EntrySection;
  const known = uuid.safeParse(patientId).success
    ? (await tx.select({ id: patients.id }).from(patients).where(eq(patients.id, patientId)).limit(1)).length > 0
    : false;
  const refused = (reason: string) => ({
    allowed: false as const,
    reason,
    action: sectionAction(entrySection, 'write'),
    resourceType: entrySection,
    patientId: known ? patientId : null,
    resourceId: known ? patientId : null,
  });
  if (!known) return refused('not_found');
  const decision = decide(viewer, await loadRelationship(tx, viewer, patientId, at), 'write', entrySection, permission);
  if (!decision.allowed) return refused(decision.reason);
  return { allowed: true, facts: { section: entrySection, breakGlassGrantId: decision.breakGlassGrantId } };
}

/** The parts every write shares: refusals recorded under the section's own action. */
const recordWrite = {
  action: auditActions.chart.write,
  resourceType: 'chart',
  deniedMessage: messages.denied,
  invalid: () => fail('invalid', unreadableForm),
} as const;

export const addEntry = operation({
  ...recordWrite,
  name: 'records.entry.add',
  input: entryRequest,
  authorize: ({ tx, viewer, at, input }) => authorizeSection(tx, viewer, at, input.patientId, input.section),
  run: async ({ tx, viewer, input, facts, audit }): Promise<Result<{ id: string }, RecordFailure>> => {
    const { cipher } = await getPatientCipher(tx, input.patientId);
    if (!cipher) return failure('unavailable');
    const parsed = entrySections[facts.section].body.safeParse(input.body);
    if (!parsed.success) return fail('invalid', plainIssue(parsed.error));
    const id = await insertEntry(tx, cipher, facts.section, viewer.userId, parsed.data);
    if (!id) return failure('unavailable');
    // The note is in the chart now: the draft that kept it through a timeout has done its job.
    await discardDraftIn(tx, viewer.userId, input.patientId, facts.section);
    await audit({
      action: sectionAction(facts.section, 'create'),
      resourceType: facts.section,
      resourceId: id,
      patientId: input.patientId,
      breakGlassGrantId: facts.breakGlassGrantId,
      after: parsed.data,
      cipher,
    });
    return ok({ id });
  },
});

/**
 * Changes fields of one entry under optimistic locking: the update only applies if the row is
 * still at `expectedVersion`, so two clinicians editing at once never overwrite each other.
 */
export const updateEntry = operation({
  ...recordWrite,
  name: 'records.entry.update',
  input: updateRequest,
  authorize: ({ tx, viewer, at, input }) => authorizeSection(tx, viewer, at, input.patientId, input.section),
  run: async ({ tx, input, facts, audit }): Promise<Result<{ version: number }, RecordFailure>> => {
    const { patientId, recordId, expectedVersion, changes } = input;
    const { section } = facts;
    const { cipher } = await getPatientCipher(tx, patientId);
    if (!cipher) return failure('unavailable');
    const { table, body } = entrySections[section];
    if (!uuid.safeParse(recordId).success) return failure('not_found');
    const [row] = await tx
      .select()
      .from(table)
      .where(and(eq(table.id, recordId), eq(table.patientId, patientId)))
      .limit(1);
    if (!row) return failure('not_found');
    if (row.version !== expectedVersion) return failure('conflict');
    const { pageNo } = row;
    // An entry without a page predates pages and was not repacked (its body would not open).
    if (pageNo === null) return failure('unavailable');
    // The section stays locked from this read to the write below: the page cannot change between.
    const page = await unlessUnreadable(openPageForEdit(tx, cipher, section, pageNo));
    if (!page || !Object.hasOwn(page, row.id)) return failure('unavailable');
    const before = page[row.id]!;
    const parsed = body.safeParse({ ...before, ...changes });
    if (!parsed.success) return fail('invalid', plainIssue(parsed.error));
    const updated = await tx
      .update(table)
      .set({ version: sql`${table.version} + 1`, updatedAt: new Date() })
      .where(and(eq(table.id, recordId), eq(table.version, expectedVersion)))
      .returning({ version: table.version });
    if (updated.length === 0) return failure('conflict');
    await savePage(tx, cipher, section, pageNo, { ...page, [row.id]: parsed.data });
    await audit({
      action: sectionAction(section, 'update'),
      resourceType: section,
      resourceId: recordId,
      patientId,
      breakGlassGrantId: facts.breakGlassGrantId,
      before,
      after: parsed.data,
      cipher,
    });
    return ok({ version: updated[0]!.version });
  },
});

/** Billing's one write: an encounter's billing status, under the same optimistic lock. */
export const setBillingStatus = operation({
  ...recordWrite,
  name: 'records.encounter.billing-status',
  input: billingRequest,
  authorize: ({ tx, viewer, at, input }) => authorizeSection(tx, viewer, at, input.patientId, 'encounters', chartPermission.billingStatus),
  run: async ({ tx, input, facts, audit }): Promise<Result<{ version: number }, RecordFailure>> => {
    const { patientId, encounterId, expectedVersion } = input;
    const { cipher } = await getPatientCipher(tx, patientId);
    if (!cipher) return failure('unavailable');
    const status = billingStatusSchema.safeParse(input.status);
    if (!status.success) return fail('invalid', 'Choose a billing status from the list.');
    if (!uuid.safeParse(encounterId).success) return failure('not_found');
    const [row] = await tx
      .select({ version: encounters.version, billingStatus: encounters.billingStatus })
      .from(encounters)
      .where(and(eq(encounters.id, encounterId), eq(encounters.patientId, patientId)))
      .limit(1);
    if (!row) return failure('not_found');
    const updated = await tx
      .update(encounters)
      .set({ billingStatus: status.data, version: sql`${encounters.version} + 1`, updatedAt: new Date() })
      .where(and(eq(encounters.id, encounterId), eq(encounters.version, expectedVersion)))
      .returning({ version: encounters.version });
    if (updated.length === 0) return failure('conflict');
    await audit({
      action: auditActions.encounters.billingStatus,
      resourceType: facts.section,
      resourceId: encounterId,
      patientId,
      breakGlassGrantId: facts.breakGlassGrantId,
      details: { from: row.billingStatus, to: status.data },
    });
    return ok({ version: updated[0]!.version });
  },
});

/**
 * Seals a new entry onto its section's newest page and inserts its row; undefined when that page
 * will not open (the write is refused rather than re-sealing a page it could not read).
 */
export async function insertEntry(
  tx: Tx,
  cipher: PatientCipher,
  section: EntrySection,
  createdBy: string | null,
  body: Record<string, unknown>,
): Promise<string | undefined> {
  const id = crypto.randomUUID();
  const pageOf = await unlessUnreadable(appendEntries(tx, cipher, section, [{ id, body }]));
  if (!pageOf) return undefined;
  await tx.insert(entrySections[section].table).values({ id, patientId: cipher.patientId, createdBy, pageNo: pageOf.get(id)! });
  return id;
}

/** A page that will not open (tampered, moved, wrong key) reads as undefined; anything else throws. */
async function unlessUnreadable<T>(work: Promise<T>): Promise<T | undefined> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof DecryptionError) return undefined;
    throw error;
  }
}

/** The first validation problem as a sentence that names the field, never its value. */
function plainIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'Check the form and try again.';
  const field = issue.path.join('.') || 'form';
  return `${field}: ${issue.message}`;
}
