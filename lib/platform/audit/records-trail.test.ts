/**
 * The audit trail as the records layer leaves it: a scripted clinical session produces exactly
 * the expected entries, fully attributed, and an audit write that fails takes the PHI read or
 * write down with it.
 */
import { and, asc, count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, progressNotes } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { addEntry, getChart, listPatients, updateEntry, type ChartView } from '@/lib/features/records';
import { careTeamOf } from '@/test/audit-fixtures';
import { testDatabase, viewer } from '@/test/fixtures';
import { testDatabaseKind, type TestDatabase } from '@/test/db';
import { verifyChain } from '@/lib/platform/audit/verify';

let handle: TestDatabase;
let physician: Viewer;
let stranger: Viewer;
let team: string[];

beforeAll(async () => {
  handle = await testDatabase({ patients: 12 });
  const client = { ip: '2001:DB8:0:0:0:0:0:7', userAgent: 'Mozilla/5.0 (count test)' };
  physician = { ...(await viewer(handle.db, 'physician@vigil.test')), ...client };
  stranger = { ...(await viewer(handle.db, 'physician2@vigil.test')), ...client };
  team = await careTeamOf(handle.db, 'physician@vigil.test');
});
afterAll(() => handle.close());

const note = (text: string) => ({ writtenAt: new Date().toISOString(), author: 'Dr. Ada Quinlan', text });

async function entriesOf(userId: string) {
  return handle.db.select().from(auditLog).where(eq(auditLog.userId, userId)).orderBy(asc(auditLog.seq));
}

describe(`every PHI access leaves its audit entry (${testDatabaseKind})`, () => {
  it('a scripted session of chart views, searches and writes leaves exactly the expected entries', async () => {
    const [p1, p2, p3] = team as [string, string, string];
    const expected: Array<{ action: string; patientId: string | null; outcome: string }> = [];
    const expect_ = (action: string, patientId: string | null, outcome = 'allowed') => expected.push({ action, patientId, outcome });

    await listPatients(physician, {});
    expect_('patient.list', null);
    const chartViews = [p1, p2, p3, p1];
    let first: ChartView | undefined;
    for (const patientId of chartViews) {
      const chart = await getChart(physician, patientId);
      expect(chart.ok).toBe(true);
      if (chart.ok) first ??= chart.value;
      expect_('chart.view', patientId);
    }
    const d = first!.demographics!;
    if (d.status !== 'ok') throw new Error('demographics should be readable');
    const byName = await listPatients(physician, { q: d.value.familyName });
    expect(byName.ok && byName.value.rows.map((r) => r.id)).toContain(p1);
    expect_('patient.search', null);
    await listPatients(physician, { q: d.value.mrn });
    expect_('patient.search', null);

    expect(await addEntry(physician, { patientId: p1, section: 'progress_notes', body: note('Seen on the ward.') })).toMatchObject({ ok: true });
    expect_('progress_notes.create', p1);
    expect(await addEntry(physician, { patientId: p2, section: 'progress_notes', body: note('Follow-up arranged.') })).toMatchObject({ ok: true });
    expect_('progress_notes.create', p2);
    const medication = first!.sections.medications;
    if (medication?.status !== 'ok' || !medication.entries[0]) throw new Error('the seed gives every patient medications');
    const med = medication.entries[0];
    const status = med.body.status === 'active' ? 'stopped' : 'active';
    expect(await updateEntry(physician, { patientId: p1, section: 'medications', recordId: med.id, expectedVersion: med.version, changes: { status } })).toMatchObject({ ok: true });
    expect_('medications.update', p1);
    // A refused write by someone with no relationship is recorded as a denial.
    expect(await addEntry(stranger, { patientId: p3, section: 'progress_notes', body: note('Not my patient.') })).toMatchObject({ ok: false, error: 'denied' });
    expect(await getChart(stranger, p3)).toMatchObject({ ok: false });

    const mine = await entriesOf(physician.userId);
    expect(mine.map((e) => ({ action: e.actionType, patientId: e.patientId, outcome: e.outcome }))).toEqual(expected);
    for (const entry of mine) {
      expect(entry.userId).toBe(physician.userId);
      expect(entry.ip).toBe('2001:db8::7');
      expect(entry.userAgent).toBe('Mozilla/5.0 (count test)');
      expect(entry.details?.actorRoles).toEqual(['physician']);
      if (entry.actionType.startsWith('patient.')) {
        // A list or search touches several patients: the entry names every one it showed.
        expect((entry.details?.shown as string[]).length).toBeGreaterThan(0);
      } else {
        expect(entry.patientId).toMatch(/^[0-9a-f-]{36}$/);
      }
    }
    expect(mine.filter((e) => e.actionType === 'chart.view').map((e) => (e.details?.sections as string[]).length)).toEqual([9, 9, 9, 9]);
    expect(mine.find((e) => e.actionType === 'patient.search')?.details?.shown).toContain(p1);
    const update = mine.find((e) => e.actionType === 'medications.update')!;
    expect(update.sealedBefore).toBeTruthy();
    expect(update.sealedAfter).toBeTruthy();
    expect(mine.filter((e) => e.actionType === 'progress_notes.create').every((e) => e.sealedAfter && !e.sealedBefore)).toBe(true);

    const theirs = await entriesOf(stranger.userId);
    expect(theirs.map((e) => [e.actionType, e.patientId, e.outcome])).toEqual([
      ['progress_notes.write', p3, 'denied'],
      ['chart.view', p3, 'denied'],
    ]);
    expect((await verifyChain()).ok).toBe(true);
  });
});

describe(`an audit write that fails aborts the access it belongs to (${testDatabaseKind})`, () => {
  const breakAudit = [
    `CREATE FUNCTION vigil_test_audit_down() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit storage unavailable'; END $$ LANGUAGE plpgsql`,
    'CREATE TRIGGER audit_down BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION vigil_test_audit_down()',
  ];
  const repairAudit = ['DROP TRIGGER audit_down ON audit_log', 'DROP FUNCTION vigil_test_audit_down()'];
  const notesOf = async (patientId: string) =>
    (await handle.db.select({ n: count() }).from(progressNotes).where(eq(progressNotes.patientId, patientId)))[0]!.n;

  it('returns no chart, lists no patients and writes nothing while the audit log refuses entries', async () => {
    const patientId = team[4]!;
    const notesBefore = await notesOf(patientId);
    const entriesBefore = (await handle.db.select({ n: count() }).from(auditLog))[0]!.n;
    for (const statement of breakAudit) await handle.db.execute(statement);
    try {
      await expect(getChart(physician, patientId)).rejects.toThrow();
      await expect(listPatients(physician, {})).rejects.toThrow();
      await expect(addEntry(physician, { patientId, section: 'progress_notes', body: note('Must not be saved.') })).rejects.toThrow();
      // A denial that cannot be recorded is not returned as a quiet denial either.
      await expect(getChart(stranger, patientId)).rejects.toThrow();
    } finally {
      for (const statement of repairAudit) await handle.db.execute(statement);
    }
    expect(await notesOf(patientId)).toBe(notesBefore);
    expect((await handle.db.select({ n: count() }).from(auditLog))[0]!.n).toBe(entriesBefore);

    // Once the log accepts entries again, the same calls work and are recorded.
    expect((await getChart(physician, patientId)).ok).toBe(true);
    expect(await addEntry(physician, { patientId, section: 'progress_notes', body: note('Saved now.') })).toMatchObject({ ok: true });
    expect(await notesOf(patientId)).toBe(notesBefore + 1);
    const recorded = await handle.db
      .select({ action: auditLog.actionType })
      .from(auditLog)
      .where(and(eq(auditLog.patientId, patientId), eq(auditLog.userId, physician.userId)));
    expect(recorded.map((r) => r.action)).toEqual(['chart.view', 'progress_notes.create']);
    expect((await verifyChain()).ok).toBe(true);
  });

  it('returns no chart and lists no patients when no audit chain can be claimed', async () => {
    const patientId = team[5]!;
    const entriesBefore = (await handle.db.select({ n: count() }).from(auditLog))[0]!.n;
    await handle.db.execute('ALTER FUNCTION vigil_audit_claim_chain(integer, integer) RENAME TO vigil_audit_claim_chain_down');
    try {
      await expect(getChart(physician, patientId)).rejects.toThrow();
      await expect(listPatients(physician, { q: 'a' })).rejects.toThrow();
    } finally {
      await handle.db.execute('ALTER FUNCTION vigil_audit_claim_chain_down(integer, integer) RENAME TO vigil_audit_claim_chain');
    }
    expect((await handle.db.select({ n: count() }).from(auditLog))[0]!.n).toBe(entriesBefore);
    expect((await getChart(physician, patientId)).ok).toBe(true);
  });
});
