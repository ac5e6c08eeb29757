/**
 * Every key-store use is written to the trail, batched: many unwraps by one user become one
 * `key.access` entry with a count, attributed to that user (the pipeline runs each operation as
 * its viewer), failures become entries of their own, and a flush that cannot write keeps them.
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '@/db/client';
import { auditLog, patientKeys, patients } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { evictDataKey } from '@/lib/platform/crypto/data-keys';
import { flushKeyAccessLog } from '@/lib/platform/crypto/key-access-flush';
import { noteKeyAccess, pendingKeyAccess } from '@/lib/platform/crypto/key-access-log';
import { getKeyProvider } from '@/lib/platform/crypto/key-provider';
import { getChart } from '@/lib/features/records';
import { testDatabase, viewer } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';

let handle: TestDatabase;
let db: Db;
let physician: Viewer;
let ids: string[];

beforeAll(async () => {
  handle = await testDatabase({ patients: 6 });
  db = handle.db;
  physician = await viewer(db, 'physician@vigil.test');
  ids = (await db.select({ id: patients.id }).from(patients).orderBy(patients.id)).map((p) => p.id);
  await flushKeyAccessLog(db); // what seeding did, out of the way
});
afterAll(async () => handle?.close());

const accessEntries = () => db.select().from(auditLog).where(eq(auditLog.actionType, 'key.access')).orderBy(auditLog.seq);

describe('key access log', () => {
  it('writes many unwraps by one viewer as one entry with a count, theirs', async () => {
    const before = (await accessEntries()).length;
    for (let round = 0; round < 3; round++) {
      for (const id of ids.slice(0, 4)) {
        evictDataKey(id);
        expect((await getChart(physician, id)).ok).toBe(true);
      }
    }
    expect(await flushKeyAccessLog(db)).toBe(1);
    const written = (await accessEntries()).slice(before);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({
      userId: physician.userId,
      outcome: 'allowed',
      resourceType: 'master_key',
      resourceId: String(getKeyProvider().currentVersion()),
      details: expect.objectContaining({ operation: 'unwrap', result: 'ok', count: 12 }),
    });
  });

  it('records a failure as its own entry, with the cause and no key or patient in it', async () => {
    await db.update(patientKeys).set({ masterKeyVersion: 77 }).where(eq(patientKeys.patientId, ids[5]!));
    evictDataKey(ids[5]);
    const opened = await getChart(physician, ids[5]!);
    expect(opened).toMatchObject({ ok: false, error: 'keys_unavailable' });
    await flushKeyAccessLog(db);
    const [failure] = await db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.actionType, 'key.access'), eq(auditLog.outcome, 'denied')));
    expect(failure).toMatchObject({
      userId: physician.userId,
      resourceId: '77',
      details: expect.objectContaining({ operation: 'unwrap', result: 'failed', problem: 'key_version_missing', count: 1 }),
    });
    expect(JSON.stringify(failure)).not.toContain(ids[5]);
  });

  it('keeps what it could not write, and writes it with the next flush', async () => {
    noteKeyAccess('secrets_load');
    const broken = { transaction: async () => Promise.reject(new Error('database gone')) } as unknown as Db;
    await expect(flushKeyAccessLog(broken)).rejects.toThrow('database gone');
    expect(pendingKeyAccess().map((g) => g.operation)).toEqual(['secrets_load']);
    expect(await flushKeyAccessLog(db)).toBe(1);
    expect(pendingKeyAccess()).toEqual([]);
  });
});
