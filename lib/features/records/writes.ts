import 'server-only';
import { and, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { getDb, type Tx } from '@/db/client';
import { encounters, patients } from '@/db/schema';
import { decide, type Decision } from '@/lib/domain/access/policy';
import { loadRelationship } from '@/lib/pipeline/relationship';
import { BILLING_STATUS_PERMISSION, type ChartSection } from '@/lib/domain/access/roles';
import type { Viewer } from '@/lib/domain/access/viewer';
import { recordAudit } from '@/lib/platform/audit';
import { DecryptionError, getPatientCipher, type PatientCipher } from '@/lib/platform/crypto';
import { billingStatuses } from '@/lib/domain/chart/sections';
import { failure, invalid, type WriteResult } from '@/lib/features/records/errors';
import { appendEntries, openPageForEdit, savePage } from '@/lib/features/records/pages';
import { entrySections, type EntrySection } from '@/lib/features/records/tables';

const uuid = z.string().uuid();

interface Authorized {
  decision: Extract<Decision, { allowed: true }>;
  cipher: PatientCipher;
}

/**
 * The shared front of every write: well-formed ids, an existing patient, the policy's verdict
 * for this section (denials audited), and the patient's cipher. Ids from the browser are never
 * trusted: a record id is always re-checked against the patient it claims to belong to.
 */
async function authorizeWrite(
  tx: Tx,
  viewer: Viewer,
  patientId: string,
  section: ChartSection,
  permission?: string,
): Promise<Authorized | WriteResult<never>> {
  // A section name from a tampered form that names no writable table is refused, not trusted.
  if (!Object.hasOwn(entrySections, section)) {
    await recordAudit(tx, {
      actor: viewer,
      action: 'chart.write',
      resourceType: 'chart',
      outcome: 'denied',
      details: { reason: 'unknown_section' },
    });
    return failure('denied');
  }
  const known = uuid.safeParse(patientId).success
    ? (await tx.select({ id: patients.id }).from(patients).where(eq(patients.id, patientId)).limit(1)).length > 0
    : false;
  const relationship = known ? await loadRelationship(tx, viewer, patientId) : { careTeam: null, breakGlassGrantId: null };
  const decision = decide(viewer, relationship, 'write', section, permission);
  if (!known || !decision.allowed) {
    await recordAudit(tx, {
      actor: viewer,
      action: `${section}.write`,
      resourceType: section,
      patientId: known ? patientId : null,
      resourceId: known ? patientId : null,
      outcome: 'denied',
      details: { reason: !known ? 'not_found' : decision.allowed ? 'unknown' : decision.reason },
    });
    return failure('denied');
  }
  const { cipher } = await getPatientCipher(tx, patientId);
  if (!cipher) return failure('unavailable');
  return { decision, cipher };
}

/** Denials must be recorded even though the write itself is not made: commit them. */
async function inWriteTransaction<T>(work: (tx: Tx) => Promise<WriteResult<T>>): Promise<WriteResult<T>> {
  const db = await getDb();
  return db.transaction(work);
}

export async function addEntry(
  viewer: Viewer,
  patientId: string,
  section: EntrySection,
  input: unknown,
): Promise<WriteResult<{ id: string }>> {
  return inWriteTransaction(async (tx) => {
    const auth = await authorizeWrite(tx, viewer, patientId, section);
    if ('ok' in auth) return auth;
    const parsed = entrySections[section].body.safeParse(input);
    if (!parsed.success) return invalid(plainIssue(parsed.error));
    const id = await insertEntry(tx, auth.cipher, section, viewer.userId, parsed.data);
    if (!id) return failure('unavailable');
    await recordAudit(tx, {
      actor: viewer,
      action: `${section}.create`,
      resourceType: section,
      resourceId: id,
      patientId,
      outcome: 'allowed',
      breakGlassGrantId: auth.decision.breakGlassGrantId,
      after: parsed.data,
      cipher: auth.cipher,
    });
    return { ok: true, value: { id } };
  });
}

/**
 * Changes fields of one entry under optimistic locking: the update only applies if the row is
 * still at `expectedVersion`, so two clinicians editing at once never overwrite each other.
 */
export async function updateEntry(
  viewer: Viewer,
  patientId: string,
  section: EntrySection,
  recordId: string,
  expectedVersion: number,
  changes: Record<string, unknown>,
): Promise<WriteResult<{ version: number }>> {
  return inWriteTransaction(async (tx) => {
    const auth = await authorizeWrite(tx, viewer, patientId, section);
    if ('ok' in auth) return auth;
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
    const page = await unlessUnreadable(openPageForEdit(tx, auth.cipher, section, pageNo));
    if (!page || !Object.hasOwn(page, row.id)) return failure('unavailable');
    const before = page[row.id]!;
    const parsed = body.safeParse({ ...before, ...changes });
    if (!parsed.success) return invalid(plainIssue(parsed.error));
    const updated = await tx
      .update(table)
      .set({ version: sql`${table.version} + 1`, updatedAt: new Date() })
      .where(and(eq(table.id, recordId), eq(table.version, expectedVersion)))
      .returning({ version: table.version });
    if (updated.length === 0) return failure('conflict');
    await savePage(tx, auth.cipher, section, pageNo, { ...page, [row.id]: parsed.data });
    await recordAudit(tx, {
      actor: viewer,
      action: `${section}.update`,
      resourceType: section,
      resourceId: recordId,
      patientId,
      outcome: 'allowed',
      breakGlassGrantId: auth.decision.breakGlassGrantId,
      before,
      after: parsed.data,
      cipher: auth.cipher,
    });
    return { ok: true, value: { version: updated[0]!.version } };
  });
}

export const billingStatusSchema = z.enum(billingStatuses);

/** Billing's one write: an encounter's billing status, under the same optimistic lock. */
export async function setBillingStatus(
  viewer: Viewer,
  patientId: string,
  encounterId: string,
  expectedVersion: number,
  status: unknown,
): Promise<WriteResult<{ version: number }>> {
  const parsed = billingStatusSchema.safeParse(status);
  return inWriteTransaction(async (tx) => {
    const auth = await authorizeWrite(tx, viewer, patientId, 'encounters', BILLING_STATUS_PERMISSION);
    if ('ok' in auth) return auth;
    if (!parsed.success) return invalid('Choose a billing status from the list.');
    if (!uuid.safeParse(encounterId).success) return failure('not_found');
    const [row] = await tx
      .select({ version: encounters.version, billingStatus: encounters.billingStatus })
      .from(encounters)
      .where(and(eq(encounters.id, encounterId), eq(encounters.patientId, patientId)))
      .limit(1);
    if (!row) return failure('not_found');
    const updated = await tx
      .update(encounters)
      .set({ billingStatus: parsed.data, version: sql`${encounters.version} + 1`, updatedAt: new Date() })
      .where(and(eq(encounters.id, encounterId), eq(encounters.version, expectedVersion)))
      .returning({ version: encounters.version });
    if (updated.length === 0) return failure('conflict');
    await recordAudit(tx, {
      actor: viewer,
      action: 'encounters.billing_status',
      resourceType: 'encounters',
      resourceId: encounterId,
      patientId,
      outcome: 'allowed',
      breakGlassGrantId: auth.decision.breakGlassGrantId,
      details: { from: row.billingStatus, to: parsed.data },
    });
    return { ok: true, value: { version: updated[0]!.version } };
  });
}

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
