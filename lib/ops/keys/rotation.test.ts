/**
 * Online master-key rotation: killed part-way (an injected fault after N batches), the portal
 * still reads every chart (cached keys and fresh unwraps alike); run again, it resumes the same
 * rotation and finishes with every live data key on the new version and nothing lost.
 */
import { and, eq, isNotNull, isNull, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '@/db/client';
import { auditLog, keyRotations, patientKeys, patients } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { getChart } from '@/lib/features/records';
import { testDatabase, viewer } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { evictDataKey, rewrapDataKey, shredPatientKey } from '@/lib/platform/crypto/data-keys';
import { getKeyProvider } from '@/lib/platform/crypto/key-provider';
import { rotateMasterKeys, RotationInterrupted } from '@/lib/ops/keys/rotation';

const PATIENTS = 60;
const BATCH = 7;

let handle: TestDatabase;
let db: Db;
let physician: Viewer;
let ids: string[];

beforeAll(async () => {
  handle = await testDatabase({ patients: PATIENTS });
  db = handle.db;
  physician = await viewer(db, 'physician@vigil.test');
  ids = (await db.select({ id: patients.id }).from(patients).orderBy(patients.id)).map((p) => p.id);
});
afterAll(async () => handle?.close());

async function versionsInUse(): Promise<Record<number, number>> {
  const rows = await db
    .select({ version: patientKeys.masterKeyVersion, n: sql<number>`count(*)::int` })
    .from(patientKeys)
    .where(isNotNull(patientKeys.wrappedKey))
    .groupBy(patientKeys.masterKeyVersion);
  return Object.fromEntries(rows.map((r) => [r.version, Number(r.n)]));
}

/** Opens every chart; any section that is not `ok` (or an exception) fails the test. */
async function expectEveryChartReadable(patientIds: string[]): Promise<void> {
  for (const id of patientIds) {
    const opened = await getChart(physician, id);
    expect(opened.ok, id).toBe(true);
    if (!opened.ok) continue;
    const view = opened.value;
    expect(view.demographics?.status, id).toBe('ok');
    expect(view.insurance?.status, id).toBe('ok');
    for (const [name, section] of Object.entries(view.sections)) expect([id, name, section.status]).toEqual([id, name, 'ok']);
  }
}

describe('master key rotation', () => {
  let shredded: string;

  it('stops after the injected fault with its progress committed, and the portal reads every chart meanwhile', async () => {
    await expectEveryChartReadable(ids.slice(0, 10)); // warm the data-key cache for some patients
    const progress: Array<[number, number]> = [];
    await expect(
      rotateMasterKeys(db, { batchSize: BATCH, failAfterBatches: 3, onProgress: (done, total) => progress.push([done, total]) }),
    ).rejects.toBeInstanceOf(RotationInterrupted);

    expect(getKeyProvider().versions()).toEqual([1, 2]);
    expect(await versionsInUse()).toEqual({ 1: PATIENTS - 3 * BATCH, 2: 3 * BATCH });
    const [rotation] = await db.select().from(keyRotations);
    expect(rotation).toMatchObject({ targetVersion: 2, rewrapped: 3 * BATCH, finishedAt: null });
    expect(progress.at(-1)).toEqual([3 * BATCH, PATIENTS]);

    const entries = await db.select().from(auditLog).where(eq(auditLog.actionType, 'key.rotate')).orderBy(auditLog.seq);
    expect(entries.map((e) => e.details)).toEqual(
      [1, 2, 3].map((batch) => ({ rotationId: rotation!.id, batch, rewrapped: BATCH, skipped: 0, fromVersions: [1], toVersion: 2 })),
    );
    const allDetails = JSON.stringify(entries);
    for (const id of ids) expect(allDetails).not.toContain(id);

    // Mid-rotation: cached keys, then fresh unwraps from both versions.
    await expectEveryChartReadable(ids.slice(0, 10));
    evictDataKey();
    await expectEveryChartReadable(ids);
  });

  it('resumes the same rotation (no new version), skipping a key shredded meanwhile, and finishes', async () => {
    const [{ patientId } = { patientId: '' }] = await db
      .select({ patientId: patientKeys.patientId })
      .from(patientKeys)
      .where(eq(patientKeys.masterKeyVersion, 1))
      .limit(1);
    shredded = patientId;
    expect(await shredPatientKey(db, shredded)).toBe(true);

    const result = await rotateMasterKeys(db, { batchSize: BATCH });
    expect(result).toMatchObject({ resumed: true, targetVersion: 2, rewrapped: PATIENTS - 3 * BATCH - 1, totalRewrapped: PATIENTS - 1 });
    expect(getKeyProvider().versions()).toEqual([1, 2]);
    expect(await versionsInUse()).toEqual({ 2: PATIENTS - 1 });
    const [rotation] = await db.select().from(keyRotations);
    expect(rotation!.finishedAt).toBeInstanceOf(Date);
    const [shreddedKey] = await db.select().from(patientKeys).where(eq(patientKeys.patientId, shredded));
    expect(shreddedKey).toMatchObject({ wrappedKey: null, masterKeyVersion: 1 });

    evictDataKey();
    await expectEveryChartReadable(ids.filter((id) => id !== shredded));
  });

  it('rotates again while charts are being read, then retires the versions nothing uses', async () => {
    evictDataKey();
    const reader = (async () => {
      for (let round = 0; round < 3; round++) {
        for (const id of ids.filter((id) => id !== shredded).slice(round * 15, round * 15 + 15)) {
          evictDataKey(id);
          await expectEveryChartReadable([id]);
        }
      }
    })();
    const [result] = await Promise.all([rotateMasterKeys(db, { batchSize: 5, retire: true }), reader]);
    expect(result).toMatchObject({ resumed: false, targetVersion: 3, totalRewrapped: PATIENTS - 1, retired: [1, 2], stillReferenced: [] });
    expect(await versionsInUse()).toEqual({ 3: PATIENTS - 1 });
    const rotations = await db.select().from(keyRotations).where(and(eq(keyRotations.targetVersion, 3), isNotNull(keyRotations.finishedAt)));
    expect(rotations).toHaveLength(1);
    const retiredEntries = await db.select().from(auditLog).where(eq(auditLog.actionType, 'key.retire'));
    expect(retiredEntries.map((e) => e.resourceId).sort()).toEqual(['1', '2']);
    evictDataKey();
    await expectEveryChartReadable(ids.filter((id) => id !== shredded));
  });

  it('sweeps up a key a stale portal wrapped under an old version, and stays open on a key that will not unwrap', async () => {
    const provider = getKeyProvider();
    const live = await db.select().from(patientKeys).where(isNotNull(patientKeys.wrappedKey)).orderBy(patientKeys.patientId).limit(2);
    const [straggler, damaged] = [live[0]!, live[1]!];
    await db
      .update(patientKeys)
      .set({ wrappedKey: rewrapDataKey(straggler.wrappedKey!, straggler.patientId, 3, 2), masterKeyVersion: 2 })
      .where(eq(patientKeys.patientId, straggler.patientId));
    const raw = Buffer.from(rewrapDataKey(damaged.wrappedKey!, damaged.patientId, 3, 2), 'base64url');
    raw[20]! ^= 1;
    await db
      .update(patientKeys)
      .set({ wrappedKey: raw.toString('base64url'), masterKeyVersion: 2 })
      .where(eq(patientKeys.patientId, damaged.patientId));

    await expect(rotateMasterKeys(db, { toCurrent: true })).rejects.toThrow(new RegExp(`1 data key.*could not be unwrapped.*${damaged.patientId}`));
    expect(provider.versions()).toEqual([1, 2, 3]);
    const [open] = await db.select().from(keyRotations).where(isNull(keyRotations.finishedAt));
    expect(open).toMatchObject({ targetVersion: 3, rewrapped: 1 });
    const [swept] = await db.select().from(patientKeys).where(eq(patientKeys.patientId, straggler.patientId));
    expect(swept!.masterKeyVersion).toBe(3);

    // The operator shreds (or restores) the damaged key; the rerun resumes and closes the rotation.
    await shredPatientKey(db, damaged.patientId);
    const finished = await rotateMasterKeys(db, { retire: true });
    expect(finished).toMatchObject({ resumed: true, targetVersion: 3, rewrapped: 0, retired: [], stillReferenced: [] });
    expect(await db.select().from(keyRotations).where(isNull(keyRotations.finishedAt))).toEqual([]);
    expect(await versionsInUse()).toEqual({ 3: PATIENTS - 2 });
  });
});
