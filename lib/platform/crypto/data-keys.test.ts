/**
 * Data keys in use: every unwrap is visible (a hook, and `keyUnwrapped` in the chart-view audit
 * entry: true on the first view after the cache lost the key, false while cached), and
 * crypto-shredding one patient erases all of their PHI while every other patient is untouched.
 */
import { randomUUID } from 'node:crypto';
import { desc, eq, sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Db } from '@/db/client';
import { auditLog, chartSectionTables, patientKeys, patients } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { addEntry, getChart, listPatients } from '@/lib/features/records';
import { dumpEverything, testDatabase, viewer } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { evictDataKey, getPatientCiphers, onDataKeyUnwrap } from '@/lib/platform/crypto/data-keys';
import { shredPatient } from '@/lib/ops/keys/shred';

let handle: TestDatabase;
let db: Db;
let physician: Viewer;
let ids: string[];

beforeAll(async () => {
  handle = await testDatabase({ patients: 20 });
  db = handle.db;
  physician = await viewer(db, 'physician@vigil.test');
  ids = (await db.select({ id: patients.id }).from(patients).orderBy(patients.id)).map((p) => p.id);
});
afterAll(async () => handle?.close());
afterEach(() => vi.restoreAllMocks());

async function lastChartView(patientId: string) {
  const [entry] = await db
    .select()
    .from(auditLog)
    .where(sql`${auditLog.actionType} = 'chart.view' AND ${auditLog.patientId} = ${patientId}`)
    .orderBy(desc(auditLog.seq))
    .limit(1);
  return entry!;
}

describe('every unwrap of a data key is recorded', () => {
  it('marks the first chart view after an eviction keyUnwrapped, and the cached one not', async () => {
    const id = ids[0]!;
    evictDataKey(id);
    await getChart(physician, id);
    expect((await lastChartView(id)).details).toMatchObject({ keyUnwrapped: true });
    await getChart(physician, id);
    expect((await lastChartView(id)).details).toMatchObject({ keyUnwrapped: false });
  });

  it('unwraps again once the cached key expires', async () => {
    const id = ids[1]!;
    await getChart(physician, id);
    await getChart(physician, id);
    expect((await lastChartView(id)).details).toMatchObject({ keyUnwrapped: false });
    const later = Date.now() + 10 * 60_000;
    vi.spyOn(Date, 'now').mockReturnValue(later);
    await getChart(physician, id);
    expect((await lastChartView(id)).details).toMatchObject({ keyUnwrapped: true });
  });

  it('tells unwrap listeners which patients were unwrapped, and only on a cache miss', async () => {
    const seen: string[][] = [];
    const stop = onDataKeyUnwrap((_q, patientIds) => {
      seen.push([...patientIds]);
    });
    try {
      evictDataKey();
      await getPatientCiphers(db, [ids[2]!, ids[3]!]);
      await getPatientCiphers(db, [ids[2]!, ids[3]!, ids[4]!]);
      expect(seen.map((s) => s.sort())).toEqual([[ids[2]!, ids[3]!].sort(), [ids[4]!]]);
    } finally {
      stop();
    }
  });

  it('fails the read when a listener cannot record the unwrap', async () => {
    const stop = onDataKeyUnwrap(() => {
      throw new Error('audit store down');
    });
    try {
      evictDataKey(ids[5]!);
      await expect(getPatientCiphers(db, [ids[5]!])).rejects.toThrow('audit store down');
    } finally {
      stop();
    }
  });
});

describe('crypto-shredding one patient', () => {
  it('erases all of their PHI, everywhere, and leaves every other patient readable', async () => {
    const victim = ids[6]!;
    const viewBefore = await getChart(physician, victim); // also caches the key in memory
    expect(viewBefore.ok && viewBefore.value.demographics?.status).toBe('ok');
    const [{ wrappedKey } = { wrappedKey: null }] = await db.select().from(patientKeys).where(eq(patientKeys.patientId, victim));
    expect(wrappedKey).toBeTruthy();

    const outcome = await shredPatient(db, victim, { userId: null, userAgent: 'vitest' });
    expect(outcome).toMatchObject({ status: 'shredded', patientId: victim });

    // The chart reads as erased at once (the cached key went with it).
    const viewResult = await getChart(physician, victim);
    if (!viewResult.ok) throw new Error('The chart itself should still open');
    const view = viewResult.value;
    expect(view.demographics).toEqual({ status: 'erased' });
    expect(view.insurance).toEqual({ status: 'erased' });
    for (const section of Object.values(view.sections)) expect(section).toEqual({ status: 'erased' });

    // Their ciphertext is still stored, but no key to open it exists anywhere in the database.
    const lookup = await getPatientCiphers(db, [victim]);
    expect(lookup).toMatchObject({ shredded: [victim], unwrapped: [] });
    expect(lookup.ciphers.has(victim)).toBe(false);
    const rows = await db.select().from(chartSectionTables.progress_notes).where(eq(chartSectionTables.progress_notes.patientId, victim));
    expect(rows.length).toBeGreaterThan(0);
    expect((await dumpEverything(db)).text).not.toContain(wrappedKey!);

    // Search no longer lists them; writes are refused; a second shred changes nothing.
    const list = await listPatients(physician, {});
    expect(list.ok && list.value.rows.map((r) => r.id)).not.toContain(victim);
    const write = await addEntry(physician, { patientId: victim, section: 'allergies', body: { substance: 'Latex', reaction: 'Rash', severity: 'mild', notedOn: '2026-01-02' } });
    expect(write).toMatchObject({ ok: false, error: 'unavailable' });
    expect(await shredPatient(db, victim, { userId: null })).toMatchObject({ status: 'already_shredded' });
    expect(await shredPatient(db, randomUUID(), { userId: null })).toMatchObject({ status: 'not_found' });

    const [entry] = await db.select().from(auditLog).where(eq(auditLog.actionType, 'key.shred'));
    expect(entry).toMatchObject({ patientId: victim, resourceId: victim, outcome: 'allowed' });

    // Everyone else: every section of every chart still opens, from cache and fresh.
    for (const pass of ['cached', 'fresh']) {
      if (pass === 'fresh') evictDataKey();
      for (const id of ids.filter((id) => id !== victim)) {
        const otherResult = await getChart(physician, id);
        if (!otherResult.ok) throw new Error(`${id}: denied`);
        const other = otherResult.value;
        const statuses = [other.demographics?.status, other.insurance?.status, ...Object.values(other.sections).map((s) => s.status)];
        expect(statuses.every((s) => s === 'ok'), `${pass} ${id}: ${statuses.join(',')}`).toBe(true);
      }
    }
  });

  it('takes effect at once for a key another process still has cached', async () => {
    const victim = ids[7]!;
    await getChart(physician, victim); // cached here
    // Shredded by another process (the keys:shred CLI): this process's cache is not told.
    await db.update(patientKeys).set({ wrappedKey: null, shreddedAt: new Date() }).where(eq(patientKeys.patientId, victim));
    const viewResult = await getChart(physician, victim);
    if (!viewResult.ok) throw new Error('The chart itself should still open');
    const view = viewResult.value;
    expect(view.demographics).toEqual({ status: 'erased' });
    expect(Object.values(view.sections).every((s) => s.status === 'erased')).toBe(true);
  });
});
