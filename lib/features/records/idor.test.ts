/**
 * Insecure direct object references: ids from the browser are never trusted. As physician2 (on
 * no care team) and as billing — and as a physician on their own patient, where it matters —
 * every attempt to reach another patient's data through a chart or a write is refused with no
 * data returned and no change made, and the refusal is audited.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq, gt } from 'drizzle-orm';
import { auditLog } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import {
  auditHead,
  ensureEntry,
  firstEntry,
  patientOnTeamOf,
  PATIENTS_WITH_STRANGERS,
  snapshotCharts,
  strangerPatients,
  testDatabase,
  viewer as signIn,
} from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { chartDeniedMessage, getChart } from '@/lib/features/records/chart';
import { listPatients } from '@/lib/features/records/patients';
import type { EntrySection } from '@/lib/features/records/tables';
import { addEntry, setBillingStatus, updateEntry } from '@/lib/features/records/writes';

const note = { writtenAt: new Date().toISOString(), author: 'Intruder', text: 'IDOR-MARKER should never be stored' };
const malformedIds = ['', 'not-a-uuid', "' OR 1=1 --", '../../etc/passwd', `${randomUUID()}' --`, 'a'.repeat(5000), '00000000-0000-0000-0000-00000000000g'];

let handle: TestDatabase;
let physician: Viewer;
let physician2: Viewer;
let billing: Viewer;
let physiciansPatient: string;
let billingsPatient: string;
let foreignPatient: string;

beforeAll(async () => {
  handle = await testDatabase({ patients: PATIENTS_WITH_STRANGERS });
  physician = await signIn(handle.db, 'physician@vigil.test');
  physician2 = await signIn(handle.db, 'physician2@vigil.test');
  billing = await signIn(handle.db, 'billing@vigil.test');
  physiciansPatient = await patientOnTeamOf(handle.db, physician.userId);
  billingsPatient = await patientOnTeamOf(handle.db, billing.userId);
  foreignPatient = (await strangerPatients(handle.db))[0]!;
  await ensureEntry(handle.db, 'medications', foreignPatient, {
    name: 'Foreignol', dose: '1 mg', route: 'oral', frequency: 'daily', startedOn: '2026-01-01', status: 'active',
  });
});

afterAll(async () => {
  await handle?.close();
});

/**
 * Runs an attempt and checks the common promise: refused (with one of `errors`), nothing but a
 * plain message returned, every chart table unchanged, and a denial audited when `audited`.
 */
async function expectRefused(
  viewer: Viewer,
  attempt: () => Promise<{ ok: boolean; error?: string; message?: string }>,
  errors: string[],
  audited = true,
): Promise<void> {
  const before = await snapshotCharts(handle.db);
  const since = await auditHead(handle.db);
  const result = await attempt();
  expect(result.ok).toBe(false);
  expect(errors).toContain(result.error);
  expect(Object.keys(result).sort()).toEqual(['error', 'message', 'ok']);
  expect(result.message).not.toMatch(/[0-9a-f]{8}-|Foreignol|IDOR-MARKER/i);
  expect(await snapshotCharts(handle.db), 'no change made').toBe(before);
  const denials = await handle.db
    .select()
    .from(auditLog)
    .where(and(gt(auditLog.seq, since), eq(auditLog.userId, viewer.userId), eq(auditLog.outcome, 'denied')));
  if (audited) expect(denials.length, 'the refusal is audited').toBeGreaterThan(0);
}

async function expectChartDenied(viewer: Viewer, patientId: string, breakGlassOffered: boolean): Promise<void> {
  const since = await auditHead(handle.db);
  const chart = await getChart(viewer, patientId);
  expect(chart).toEqual({ ok: false, error: breakGlassOffered ? 'break_glass_offered' : 'denied', message: chartDeniedMessage });
  const [entry] = await handle.db
    .select()
    .from(auditLog)
    .where(and(gt(auditLog.seq, since), eq(auditLog.userId, viewer.userId), eq(auditLog.actionType, 'chart.view')));
  expect(entry?.outcome).toBe('denied');
}

describe('physician2 (on no care team)', () => {
  it('sees no patients in the list', async () => {
    expect(await listPatients(physician2, {})).toMatchObject({ ok: true, value: { rows: [] } });
  });

  it("opening another clinician's patient is denied, with the emergency-access offer", async () => {
    await expectChartDenied(physician2, physiciansPatient, true);
    await expectChartDenied(physician2, foreignPatient, true);
  });

  it('writes naming a foreign patient are denied', async () => {
    await expectRefused(physician2, () => addEntry(physician2, { patientId: physiciansPatient, section: 'progress_notes', body: note }), ['denied']);
    const row = await firstEntry(handle.db, 'medications', foreignPatient);
    await expectRefused(physician2, () => updateEntry(physician2, { patientId: foreignPatient, section: 'medications', recordId: row.id, expectedVersion: row.version, changes: { status: 'stopped' } }), ['denied']);
  });

  it("a patient id with another patient's record id is denied", async () => {
    const row = await firstEntry(handle.db, 'medications', foreignPatient);
    await expectRefused(physician2, () => updateEntry(physician2, { patientId: physiciansPatient, section: 'medications', recordId: row.id, expectedVersion: row.version, changes: { status: 'stopped' } }), ['denied']);
  });

  it('guessed and malformed ids are denied without an error', async () => {
    await expectChartDenied(physician2, randomUUID(), false);
    for (const id of malformedIds) {
      await expectChartDenied(physician2, id, false);
      await expectRefused(physician2, () => addEntry(physician2, { patientId: id, section: 'progress_notes', body: note }), ['denied']);
    }
  });
});

describe('billing', () => {
  it('opening a patient outside its scope is denied, with no emergency-access offer', async () => {
    await expectChartDenied(billing, foreignPatient, false);
  });

  it("the billing lens of its own patient holds no clinical sections", async () => {
    const chartResult = await getChart(billing, billingsPatient);
    if (!chartResult.ok) throw new Error('billing should open its own patient');
    const chart = chartResult.value;
    expect(Object.keys(chart.sections)).toEqual(['encounters']);
    expect(chart.demographics).not.toBeNull();
    expect(chart.insurance).not.toBeNull();
  });

  it('a billing-status change naming a foreign patient and encounter is denied', async () => {
    const encounter = await firstEntry(handle.db, 'encounters', foreignPatient);
    await expectRefused(billing, () => setBillingStatus(billing, { patientId: foreignPatient, encounterId: encounter.id, expectedVersion: encounter.version, status: 'paid' }), ['denied']);
  });

  it("its own patient's id with a foreign patient's encounter id finds nothing and changes nothing", async () => {
    const encounter = await firstEntry(handle.db, 'encounters', foreignPatient);
    await expectRefused(billing, () => setBillingStatus(billing, { patientId: billingsPatient, encounterId: encounter.id, expectedVersion: encounter.version, status: 'paid' }), ['not_found'], false);
  });

  it('a tampered section field is denied', async () => {
    for (const section of ['progress_notes', 'vitals', 'nursing_notes', 'medications', 'encounters'] as EntrySection[]) {
      await expectRefused(billing, () => addEntry(billing, { patientId: billingsPatient, section, body: note }), ['denied']);
    }
    const encounter = await firstEntry(handle.db, 'encounters', billingsPatient);
    await expectRefused(billing, () => updateEntry(billing, { patientId: billingsPatient, section: 'encounters', recordId: encounter.id, expectedVersion: encounter.version, changes: { type: 'Changed' } }), ['denied']);
    for (const section of ['demographics', 'insurance', 'audit_log', 'constructor', 'toString', '__proto__']) {
      await expectRefused(billing, () => addEntry(billing, { patientId: billingsPatient, section: section as EntrySection, body: note }), ['denied']);
    }
  });

  it('a status value outside the list is refused', async () => {
    const encounter = await firstEntry(handle.db, 'encounters', billingsPatient);
    await expectRefused(billing, () => setBillingStatus(billing, { patientId: billingsPatient, encounterId: encounter.id, expectedVersion: encounter.version, status: 'written_off; DROP TABLE encounters' }), ['invalid'], false);
  });

  it('guessed and malformed ids are denied or not found without an error', async () => {
    await expectChartDenied(billing, randomUUID(), false);
    const encounter = await firstEntry(handle.db, 'encounters', billingsPatient);
    await expectRefused(billing, () => setBillingStatus(billing, { patientId: billingsPatient, encounterId: randomUUID(), expectedVersion: encounter.version, status: 'paid' }), ['not_found'], false);
    for (const id of malformedIds) {
      await expectChartDenied(billing, id, false);
      await expectRefused(billing, () => setBillingStatus(billing, { patientId: id, encounterId: encounter.id, expectedVersion: encounter.version, status: 'paid' }), ['denied']);
      await expectRefused(billing, () => setBillingStatus(billing, { patientId: billingsPatient, encounterId: id, expectedVersion: encounter.version, status: 'paid' }), ['not_found'], false);
    }
  });
});

describe('a physician on their own patient', () => {
  it("cannot reach another patient's row through their own patient's id", async () => {
    const foreign = await firstEntry(handle.db, 'medications', foreignPatient);
    await expectRefused(physician, () => updateEntry(physician, { patientId: physiciansPatient, section: 'medications', recordId: foreign.id, expectedVersion: foreign.version, changes: { status: 'stopped' } }), ['not_found'], false);
  });

  it('cannot reach a row of another section by naming the wrong section', async () => {
    await ensureEntry(handle.db, 'problems', physiciansPatient, { description: 'Test problem', icd10: 'R69', onsetOn: '2026-01-01', status: 'active' });
    const problem = await firstEntry(handle.db, 'problems', physiciansPatient);
    await expectRefused(physician, () => updateEntry(physician, { patientId: physiciansPatient, section: 'medications', recordId: problem.id, expectedVersion: problem.version, changes: { status: 'stopped' } }), ['not_found'], false);
  });

  it('malformed record ids find nothing', async () => {
    for (const id of malformedIds) {
      await expectRefused(physician, () => updateEntry(physician, { patientId: physiciansPatient, section: 'medications', recordId: id, expectedVersion: 1, changes: { status: 'stopped' } }), ['not_found'], false);
    }
  });
});
