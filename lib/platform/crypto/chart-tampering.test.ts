/**
 * Tampering at rest, seen through the records layer: a page swapped, moved, bit-flipped, sealed
 * under the wrong key, cut short or deleted, or an entry row re-pointed, makes that one section
 * `unavailable` (and says so in the audit entry) while the rest of the chart still opens, and
 * nothing throws.
 */
import { randomBytes } from 'node:crypto';
import { and, desc, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '@/db/client';
import { auditLog, chartPages, chartSectionHeads, chartSectionTables, incidents, patientKeys, patients } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { DecryptionError, evictDataKey, getPatientCipher } from '@/lib/platform/crypto';
import { sealContext, sealJson } from '@/lib/platform/crypto/envelope';
import { addEntry, getChart, updateEntry, type ChartView } from '@/lib/features/records';
import { testDatabase, viewer } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';

type SectionTable = keyof typeof chartSectionTables;

let handle: TestDatabase;
let db: Db;
let physician: Viewer;
/** Patients not yet used by a test: each test tampers with its own. */
let unused: string[];

beforeAll(async () => {
  handle = await testDatabase({ patients: 32 });
  db = handle.db;
  physician = await viewer(db, 'physician@vigil.test');
  unused = (await db.select({ id: patients.id }).from(patients).orderBy(patients.id)).map((p) => p.id);
});
afterAll(async () => handle?.close());

/** A patient with at least `rows` entries in `table`, and those entries' ids, oldest first. */
async function takePatientWith(table: SectionTable, rows: number): Promise<{ patientId: string; rowIds: string[] }> {
  const t = chartSectionTables[table];
  for (const patientId of unused) {
    const found = await db.select({ id: t.id }).from(t).where(eq(t.patientId, patientId)).orderBy(t.createdAt, t.id);
    if (found.length >= rows) {
      unused = unused.filter((id) => id !== patientId);
      return { patientId, rowIds: found.map((r) => r.id) };
    }
  }
  throw new Error(`No unused seeded patient has ${rows} ${table} rows.`);
}

/** A patient with at least one entry in every section, so every section has something to open. */
async function takePatientWithEverySection(): Promise<string> {
  for (const patientId of unused) {
    const counts = await Promise.all(
      Object.values(chartSectionTables).map((t) => db.select({ id: t.id }).from(t).where(eq(t.patientId, patientId)).limit(1)),
    );
    if (counts.every((rows) => rows.length > 0)) {
      unused = unused.filter((id) => id !== patientId);
      return patientId;
    }
  }
  throw new Error('No unused seeded patient has an entry in every section.');
}

async function sealedPage(patientId: string, section: SectionTable, pageNo = 0): Promise<string> {
  const [row] = await db
    .select({ sealedEntries: chartPages.sealedEntries })
    .from(chartPages)
    .where(and(eq(chartPages.patientId, patientId), eq(chartPages.section, section), eq(chartPages.pageNo, pageNo)));
  return row!.sealedEntries;
}

async function setSealedPage(patientId: string, section: SectionTable, value: string, pageNo = 0): Promise<void> {
  await db
    .update(chartPages)
    .set({ sealedEntries: value })
    .where(and(eq(chartPages.patientId, patientId), eq(chartPages.section, section), eq(chartPages.pageNo, pageNo)));
}

/** Gives the patient a problem if the seed gave none (so the section has a page). */
async function ensureProblem(patientId: string): Promise<void> {
  const t = chartSectionTables.problems;
  if ((await db.select({ id: t.id }).from(t).where(eq(t.patientId, patientId)).limit(1)).length > 0) return;
  const write = await addEntry(physician, { patientId, section: 'problems', body: { description: 'Seasonal rhinitis', icd10: 'J30.2', status: 'active', onsetOn: '2025-04-01' } });
  expect(write.ok).toBe(true);
}

async function openChart(patientId: string): Promise<ChartView> {
  const viewResult = await getChart(physician, patientId);
  if (!viewResult.ok) throw new Error('The physician should see the chart.');
  const view = viewResult.value;
  return view;
}

/** Every readable part of the chart, by name, with its status. */
function statuses(view: ChartView): Record<string, string> {
  const out: Record<string, string> = {};
  if (view.demographics) out.demographics = view.demographics.status;
  if (view.insurance) out.insurance = view.insurance.status;
  for (const [name, section] of Object.entries(view.sections)) out[name] = section.status;
  return out;
}

const everySection = ['demographics', 'insurance', 'allergies', 'medications', 'problems', 'vitals', 'progress_notes', 'nursing_notes', 'encounters'];

function expectOnlyUnavailable(view: ChartView, broken: string[]): void {
  const all = statuses(view);
  expect(Object.keys(all).sort()).toEqual([...everySection].sort());
  for (const [name, status] of Object.entries(all)) expect([name, status]).toEqual([name, broken.includes(name) ? 'unavailable' : 'ok']);
}

async function lastAudit() {
  const [entry] = await db.select().from(auditLog).orderBy(desc(auditLog.seq)).limit(1);
  return entry!;
}

const flipBit = (sealed: string, byte: number) => {
  const raw = Buffer.from(sealed, 'base64url');
  raw[byte]! ^= 0x01;
  return raw.toString('base64url');
};

describe('a tampered section reads as unavailable, the rest of the chart opens', () => {
  it('opens an untouched chart completely', async () => {
    const { patientId } = await takePatientWith('medications', 1);
    expectOnlyUnavailable(await openChart(patientId), []);
    expect((await lastAudit()).details).toMatchObject({ unavailable: [] });
  });

  it('two pages swapped between sections of one chart', async () => {
    const { patientId } = await takePatientWith('medications', 1);
    await ensureProblem(patientId);
    const [meds, problems] = [await sealedPage(patientId, 'medications'), await sealedPage(patientId, 'problems')];
    await setSealedPage(patientId, 'medications', problems);
    await setSealedPage(patientId, 'problems', meds);
    const view = await openChart(patientId);
    expectOnlyUnavailable(view, ['medications', 'problems']);
    const audit = await lastAudit();
    expect(audit).toMatchObject({ actionType: 'chart.view', outcome: 'allowed', patientId });
    expect(audit.details).toMatchObject({ unavailable: expect.arrayContaining(['medications', 'problems']) });
  });

  it("another patient's page copied over this patient's page", async () => {
    const victim = await takePatientWith('problems', 1);
    const donor = await takePatientWith('problems', 1);
    await setSealedPage(victim.patientId, 'problems', await sealedPage(donor.patientId, 'problems'));
    expectOnlyUnavailable(await openChart(victim.patientId), ['problems']);
    expectOnlyUnavailable(await openChart(donor.patientId), []);
  });

  it('a ciphertext moved to another column (demographics and insurance swapped)', async () => {
    const { patientId } = await takePatientWith('vitals', 1);
    await db.execute(
      sql`UPDATE patients SET sealed_demographics = sealed_insurance, sealed_insurance = sealed_demographics WHERE id = ${patientId}`,
    );
    expectOnlyUnavailable(await openChart(patientId), ['demographics', 'insurance']);
  });

  it('a page moved to another page number', async () => {
    const { patientId, rowIds } = await takePatientWith('progress_notes', 1);
    const t = chartSectionTables.progress_notes;
    await db.execute(sql`UPDATE chart_pages SET page_no = 7 WHERE patient_id = ${patientId} AND section = 'progress_notes'`);
    await db.update(t).set({ pageNo: 7 }).where(eq(t.patientId, patientId));
    expect(rowIds.length).toBeGreaterThan(0);
    expectOnlyUnavailable(await openChart(patientId), ['progress_notes']);
  });

  it("an entry row moved to another patient finds no body in that patient's page", async () => {
    const victim = await takePatientWith('allergies', 1);
    const source = await takePatientWith('allergies', 1);
    const t = chartSectionTables.allergies;
    await db.update(t).set({ patientId: victim.patientId }).where(eq(t.id, source.rowIds[0]!));
    expectOnlyUnavailable(await openChart(victim.patientId), ['allergies']);
  });

  it('a page deleted', async () => {
    const { patientId } = await takePatientWith('encounters', 1);
    await db.delete(chartPages).where(and(eq(chartPages.patientId, patientId), eq(chartPages.section, 'encounters')));
    expectOnlyUnavailable(await openChart(patientId), ['encounters']);
  });

  it('one flipped bit', async () => {
    const { patientId } = await takePatientWith('vitals', 1);
    await setSealedPage(patientId, 'vitals', flipBit(await sealedPage(patientId, 'vitals'), 20));
    expectOnlyUnavailable(await openChart(patientId), ['vitals']);
  });

  it('a page sealed under the wrong data key, at the right place', async () => {
    const { patientId, rowIds } = await takePatientWith('progress_notes', 1);
    const forged = sealJson(randomBytes(32), sealContext('chart_pages', 'sealed_entries', `${patientId}/progress_notes/0`), {
      [rowIds[0]!]: { writtenAt: '2026-01-01T00:00:00.000Z', author: 'Mallory', text: 'Forged note.' },
    });
    await setSealedPage(patientId, 'progress_notes', forged);
    expectOnlyUnavailable(await openChart(patientId), ['progress_notes']);
  });

  it('a truncated tag', async () => {
    const { patientId } = await takePatientWith('nursing_notes', 1);
    const raw = Buffer.from(await sealedPage(patientId, 'nursing_notes'), 'base64url');
    await setSealedPage(patientId, 'nursing_notes', raw.subarray(0, raw.length - 4).toString('base64url'));
    expectOnlyUnavailable(await openChart(patientId), ['nursing_notes']);
  });

  it('a write to a tampered section is refused and leaves the page as it was', async () => {
    const { patientId } = await takePatientWith('allergies', 1);
    const tampered = flipBit(await sealedPage(patientId, 'allergies'), 30);
    await setSealedPage(patientId, 'allergies', tampered);
    const write = await addEntry(physician, { patientId, section: 'allergies', body: { substance: 'Latex', reaction: 'Rash', severity: 'mild', notedOn: '2026-01-02' } });
    expect(write).toMatchObject({ ok: false, error: 'unavailable' });
    expect(await sealedPage(patientId, 'allergies')).toBe(tampered);
  });

  it('wrapped data keys swapped between two patients: both charts unavailable, neither crashes', async () => {
    const a = await takePatientWithEverySection();
    const b = await takePatientWithEverySection();
    const [keyA] = await db.select().from(patientKeys).where(eq(patientKeys.patientId, a));
    const [keyB] = await db.select().from(patientKeys).where(eq(patientKeys.patientId, b));
    await db.update(patientKeys).set({ wrappedKey: keyB!.wrappedKey }).where(eq(patientKeys.patientId, a));
    await db.update(patientKeys).set({ wrappedKey: keyA!.wrappedKey }).where(eq(patientKeys.patientId, b));
    evictDataKey(a);
    evictDataKey(b);
    const { cipher, unavailable } = await getPatientCipher(db, a);
    expect(unavailable).toBe(true);
    expect(() => cipher!.seal('allergies', 'sealed_body', a, { substance: 'Latex' })).toThrow(DecryptionError);
    for (const patientId of [a, b]) {
      expectOnlyUnavailable(await openChart(patientId), everySection);
      expect((await lastAudit()).details).toMatchObject({ keyUnwrapped: false, unavailable: expect.arrayContaining(everySection) });
    }
  });
});

describe('rolled-back pages and deleted rows: unavailable, and reported as a HIGH case', () => {
  const medication = { name: 'Warfarin', dose: '5 mg', route: 'oral', frequency: 'daily', startedOn: '2026-01-01', status: 'active' };

  /** The HIGH tamper cases naming this patient's section (the case of the hour collects every row that failed). */
  async function tamperCases(patientId: string, section: string) {
    const rows = await db.select().from(incidents).where(eq(incidents.rule, 'tampered_row'));
    return rows.filter((r) => r.severity === 'HIGH' && JSON.stringify(r.details).includes(patientId) && (r.details as { rowId?: string }).rowId !== undefined && JSON.stringify(r.details).includes(section));
  }

  async function pageRow(patientId: string, section: SectionTable) {
    const [row] = await db.select().from(chartPages).where(and(eq(chartPages.patientId, patientId), eq(chartPages.section, section), eq(chartPages.pageNo, 0)));
    return row!;
  }

  it('an older ciphertext of the same page, with its older version, put back (a stopped medication restarted)', async () => {
    const { patientId, rowIds } = await takePatientWith('medications', 1);
    const before = await pageRow(patientId, 'medications');
    const stopped = await updateEntry(physician, { patientId, section: 'medications', recordId: rowIds[0]!, expectedVersion: 1, changes: { ...medication, status: 'stopped' } });
    expect(stopped.ok).toBe(true);
    expect((await pageRow(patientId, 'medications')).version).toBe(before.version + 1);
    // The whole old row back, version column included: it opens under its own version, but the head names a newer one.
    await db.update(chartPages).set({ sealedEntries: before.sealedEntries, version: before.version }).where(and(eq(chartPages.patientId, patientId), eq(chartPages.section, 'medications'), eq(chartPages.pageNo, 0)));
    expectOnlyUnavailable(await openChart(patientId), ['medications']);
    const [entry] = await db.select().from(auditLog).where(and(eq(auditLog.actionType, 'integrity.tampered'), eq(auditLog.resourceId, `${patientId}/medications`)));
    expect(entry).toMatchObject({ resourceType: 'chart_section_heads', patientId, outcome: 'denied' });
    expect(await tamperCases(patientId, 'medications')).toHaveLength(1);
  });

  it('an older ciphertext under the current version number does not open', async () => {
    const { patientId, rowIds } = await takePatientWith('medications', 1);
    const before = await pageRow(patientId, 'medications');
    expect((await updateEntry(physician, { patientId, section: 'medications', recordId: rowIds[0]!, expectedVersion: 1, changes: { ...medication, status: 'stopped' } })).ok).toBe(true);
    await setSealedPage(patientId, 'medications', before.sealedEntries);
    expectOnlyUnavailable(await openChart(patientId), ['medications']);
    expect(await tamperCases(patientId, 'medications')).toHaveLength(1);
  });

  it('a deleted entry row: the page still holds the entry, so the section is unavailable rather than one entry short', async () => {
    const { patientId, rowIds } = await takePatientWith('allergies', 1);
    const t = chartSectionTables.allergies;
    await db.delete(t).where(eq(t.id, rowIds[rowIds.length - 1]!));
    expectOnlyUnavailable(await openChart(patientId), ['allergies']);
    expect(await tamperCases(patientId, 'allergies')).toHaveLength(1);
  });

  it('every row of a section deleted: the head still counts them', async () => {
    const { patientId } = await takePatientWith('problems', 1);
    const t = chartSectionTables.problems;
    await db.delete(t).where(eq(t.patientId, patientId));
    expectOnlyUnavailable(await openChart(patientId), ['problems']);
  });

  it('a deleted row replaced by an invented one on the same page keeps the count but not the page', async () => {
    const { patientId, rowIds } = await takePatientWith('vitals', 2);
    const t = chartSectionTables.vitals;
    const [victim] = await db.select().from(t).where(eq(t.id, rowIds[rowIds.length - 1]!));
    await db.delete(t).where(eq(t.id, victim!.id));
    await db.insert(t).values({ id: crypto.randomUUID(), patientId, pageNo: victim!.pageNo, createdAt: new Date('2020-01-01') });
    expectOnlyUnavailable(await openChart(patientId), ['vitals']);
  });

  it('the head deleted while pages remain: unavailable, and the next write is refused rather than starting a new head', async () => {
    const { patientId } = await takePatientWith('nursing_notes', 1);
    await db.delete(chartSectionHeads).where(and(eq(chartSectionHeads.patientId, patientId), eq(chartSectionHeads.section, 'nursing_notes')));
    expectOnlyUnavailable(await openChart(patientId), ['nursing_notes']);
    const write = await addEntry(physician, { patientId, section: 'nursing_notes', body: { writtenAt: '2026-01-02T10:00:00.000Z', author: 'RN', text: 'Resting.' } });
    expect(write).toMatchObject({ ok: false });
  });

  it('legitimate writes and edits keep the section open: the head follows every page', async () => {
    const { patientId, rowIds } = await takePatientWith('medications', 1);
    for (let n = 0; n < 40; n++) {
      expect((await addEntry(physician, { patientId, section: 'medications', body: { ...medication, name: `Synthetic ${n}` } })).ok).toBe(true);
    }
    expect((await updateEntry(physician, { patientId, section: 'medications', recordId: rowIds[0]!, expectedVersion: 1, changes: { status: 'stopped' } })).ok).toBe(true);
    expectOnlyUnavailable(await openChart(patientId), []);
    expect(await tamperCases(patientId, 'medications')).toHaveLength(0);
  });
});
