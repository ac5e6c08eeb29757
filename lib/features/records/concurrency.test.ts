/**
 * Optimistic locking: two clinicians editing the same entry at the same version never silently
 * overwrite each other. Exactly one wins; the other gets `conflict` and, after reloading, can
 * apply their change on top — so nothing is lost. Runs on PGlite and, under scripts/test-all.sh,
 * on PostgreSQL, where the two transactions really do race on the row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq, gt } from 'drizzle-orm';
import { auditLog } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { auditHead, createStaff, ensureEntry, firstEntry, patientOnTeamOf, storedEntryBody, testDatabase, viewer } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { getChart } from '@/lib/features/records/chart';
import { setBillingStatus, updateEntry } from '@/lib/features/records/writes';

let handle: TestDatabase;
let physician: Viewer;
let colleague: Viewer;
let billing: Viewer;
let patientId: string;

beforeAll(async () => {
  handle = await testDatabase({ patients: 20 });
  physician = await viewer(handle.db, 'physician@vigil.test');
  billing = await viewer(handle.db, 'billing@vigil.test');
  patientId = await patientOnTeamOf(handle.db, physician.userId);
  const other = await createStaff(handle.db, { roles: ['physician'], careTeam: [{ patientId, relationship: 'consulting' }] });
  colleague = await viewer(handle.db, other.email);
  await ensureEntry(handle.db, 'medications', patientId, {
    name: 'Racetamol', dose: '5 mg', route: 'oral', frequency: 'daily', startedOn: '2026-01-01', status: 'active',
  });
});

afterAll(async () => {
  await handle?.close();
});

async function medicationBody(id: string): Promise<Record<string, unknown>> {
  return (await storedEntryBody(handle.db, 'medications', id))!;
}

describe('two concurrent edits at the same version', () => {
  it('one wins, the other gets a conflict, and the loser can re-apply: nothing lost', async () => {
    const row = await firstEntry(handle.db, 'medications', patientId);
    const since = await auditHead(handle.db);
    const [a, b] = await Promise.all([
      updateEntry(physician, { patientId, section: 'medications', recordId: row.id, expectedVersion: row.version, changes: { dose: '10 mg' } }),
      updateEntry(colleague, { patientId, section: 'medications', recordId: row.id, expectedVersion: row.version, changes: { frequency: 'twice daily' } }),
    ]);
    const outcomes = [a, b].map((r) => (r.ok ? 'ok' : r.error)).sort();
    expect(outcomes).toEqual(['conflict', 'ok']);
    const loser = a.ok ? b : a;
    expect(loser.ok ? '' : loser.message).toMatch(/someone else changed this record/i);

    const winnerChange = a.ok ? { dose: '10 mg' } : { frequency: 'twice daily' };
    const loserChange = a.ok ? { frequency: 'twice daily' } : { dose: '10 mg' };
    const loserViewer = a.ok ? colleague : physician;
    const afterRace = await firstEntry(handle.db, 'medications', patientId);
    expect(afterRace.version).toBe(row.version + 1);
    expect(await medicationBody(row.id)).toMatchObject(winnerChange);

    const updates = await handle.db
      .select()
      .from(auditLog)
      .where(and(gt(auditLog.seq, since), eq(auditLog.actionType, 'medications.update')));
    expect(updates).toHaveLength(1);

    // The loser reloads the chart (as the conflict message says) and applies their change again.
    const chartResult = await getChart(loserViewer, patientId);
    if (!chartResult.ok) throw new Error('chart should open');
    const chart = chartResult.value;
    const reloaded = chart.sections.medications;
    const entry = reloaded?.status === 'ok' ? reloaded.entries.find((e) => e.id === row.id) : undefined;
    expect(entry?.version).toBe(row.version + 1);
    const retry = await updateEntry(loserViewer, { patientId, section: 'medications', recordId: row.id, expectedVersion: entry!.version, changes: loserChange });
    expect(retry).toEqual({ ok: true, value: { version: row.version + 2 } });
    expect(await medicationBody(row.id)).toMatchObject({ ...winnerChange, ...loserChange });
  });

  it('with five editors at once, exactly one wins', async () => {
    const row = await firstEntry(handle.db, 'medications', patientId);
    const results = await Promise.all(
      ['1 mg', '2 mg', '3 mg', '4 mg', '6 mg'].map((dose, i) =>
        updateEntry(i % 2 ? colleague : physician, { patientId, section: 'medications', recordId: row.id, expectedVersion: row.version, changes: { dose } }),
      ),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok && r.error === 'conflict')).toHaveLength(4);
    expect((await firstEntry(handle.db, 'medications', patientId)).version).toBe(row.version + 1);
  });

  it('a stale version is a conflict even without a race', async () => {
    const row = await firstEntry(handle.db, 'medications', patientId);
    const result = await updateEntry(physician, { patientId, section: 'medications', recordId: row.id, expectedVersion: row.version - 1, changes: { dose: '7 mg' } });
    expect(result).toMatchObject({ ok: false, error: 'conflict' });
    expect((await firstEntry(handle.db, 'medications', patientId)).version).toBe(row.version);
  });

  it('billing status: two clerks at once, one wins', async () => {
    const encounter = await firstEntry(handle.db, 'encounters', patientId);
    const [a, b] = await Promise.all([
      setBillingStatus(billing, { patientId, encounterId: encounter.id, expectedVersion: encounter.version, status: 'submitted' }),
      setBillingStatus(billing, { patientId, encounterId: encounter.id, expectedVersion: encounter.version, status: 'denied' }),
    ]);
    expect([a, b].map((r) => (r.ok ? 'ok' : r.error)).sort()).toEqual(['conflict', 'ok']);
    expect((await firstEntry(handle.db, 'encounters', patientId)).version).toBe(encounter.version + 1);
  });
});
