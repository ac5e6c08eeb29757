/**
 * Upgrading a database written before pages: entries that sealed their own bodies are moved onto
 * pages with nothing lost, a run stopped part-way resumes, shredded patients' unreadable rows are
 * dropped, and an entry whose own envelope will not open is left in place, never guessed at.
 */
import { eq, isNotNull } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '@/db/client';
import { chartPages, chartSectionHeads, chartSectionTables, patients } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { getPatientCipher, shredPatientKey } from '@/lib/platform/crypto';
import { openEveryPage, testDatabase, viewer } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { getChart, type ChartView } from '@/lib/features/records/chart';
import { countLegacyPatients, repackLegacyEntries } from '@/lib/ops/repack';

let handle: TestDatabase;
let db: Db;
let physician: Viewer;
let ids: string[];

beforeAll(async () => {
  handle = await testDatabase({ patients: 8 });
  db = handle.db;
  physician = await viewer(db, 'physician@vigil.test');
  ids = (await db.select({ id: patients.id }).from(patients).orderBy(patients.id)).map((p) => p.id);
});
afterAll(async () => handle?.close());

// Every seeded patient here is on the demo physician's care team (the first 60 are).

/** Rewrites every chart entry the pre-page way: its own envelope in sealed_body, no page. */
async function downgradeToLegacyRows(): Promise<void> {
  for (const page of await openEveryPage(db)) {
    const { cipher } = await getPatientCipher(db, page.patientId);
    const table = chartSectionTables[page.section];
    for (const [id, body] of Object.entries(page.entries)) {
      await db.update(table).set({ pageNo: null, legacySealedBody: cipher!.seal(page.section, 'sealed_body', id, body) }).where(eq(table.id, id));
    }
  }
  await db.delete(chartPages);
  await db.delete(chartSectionHeads);
}

/** The chart's sections, entries sorted by id (seeded entries share a creation time, so their order is not stable). */
async function chartSections(patientId: string): Promise<ChartView['sections']> {
  const viewResult = await getChart(physician, patientId);
  if (!viewResult.ok) throw new Error('The physician should see the chart.');
  const view = viewResult.value;
  for (const section of Object.values(view.sections)) {
    if (section.status === 'ok') section.entries.sort((a, b) => a.id.localeCompare(b.id));
  }
  return view.sections;
}

async function legacyRows(): Promise<number> {
  let n = 0;
  for (const table of Object.values(chartSectionTables)) n += (await db.select({ id: table.id }).from(table).where(isNotNull(table.legacySealedBody))).length;
  return n;
}

describe('repacking pre-page chart entries', () => {
  it('moves every entry onto pages, resumes after a stop, and leaves charts exactly as they read before', async () => {
    const onTeam = ids.slice(0, 3);
    const before = new Map<string, ChartView['sections']>();
    for (const id of onTeam) before.set(id, await chartSections(id));

    await downgradeToLegacyRows();
    expect(await countLegacyPatients(db)).toBe(ids.length);
    for (const id of onTeam) {
      // Without pages the sections do not open: proof the old rows are really the only copy.
      expect(Object.values(await chartSections(id)).some((s) => s.status !== 'ok')).toBe(true);
    }

    // A run stopped after its first patient (the progress hook fires after that commit) ...
    const stop = new Error('stopped');
    await expect(repackLegacyEntries(db, () => { throw stop; })).rejects.toBe(stop);
    expect(await countLegacyPatients(db)).toBe(ids.length - 1);
    // ... and run again finishes the rest.
    const done = await repackLegacyEntries(db);
    expect(done).toMatchObject({ patients: ids.length - 1, unreadable: 0, erased: 0 });
    expect(await legacyRows()).toBe(0);
    expect(await countLegacyPatients(db)).toBe(0);
    for (const id of onTeam) expect(await chartSections(id)).toEqual(before.get(id));

    // A second run finds nothing to do.
    expect(await repackLegacyEntries(db)).toEqual({ patients: 0, entries: 0, unreadable: 0, erased: 0 });
  });

  it('drops shredded patients’ rows and leaves an entry that will not open in place', async () => {
    await downgradeToLegacyRows();
    const [shredded, damaged] = [ids[4]!, ids[5]!];
    await shredPatientKey(db, shredded);
    const table = chartSectionTables.vitals;
    const [victim] = await db.select().from(table).where(eq(table.patientId, damaged)).limit(1);
    const flipped = Buffer.from(victim!.legacySealedBody!, 'base64url');
    flipped[20]! ^= 1;
    await db.update(table).set({ legacySealedBody: flipped.toString('base64url') }).where(eq(table.id, victim!.id));
    const shreddedRows = (
      await Promise.all(Object.values(chartSectionTables).map((t) => db.select({ id: t.id }).from(t).where(eq(t.patientId, shredded))))
    ).flat().length;

    const done = await repackLegacyEntries(db);
    expect(done).toMatchObject({ unreadable: 1, erased: shreddedRows });
    const [kept] = await db.select().from(table).where(eq(table.id, victim!.id));
    expect(kept).toMatchObject({ pageNo: null, legacySealedBody: flipped.toString('base64url') });
    // Fail closed: the section says unavailable rather than showing a list without that entry.
    expect((await chartSections(damaged)).vitals).toEqual({ status: 'unavailable' });
    expect((await chartSections(shredded)).vitals).toEqual({ status: 'erased' });
    const damagedVitals = (await openEveryPage(db)).filter((p) => p.patientId === damaged && p.section === 'vitals');
    expect(damagedVitals.flatMap((p) => Object.keys(p.entries))).not.toContain(victim!.id);
    expect(await legacyRows()).toBe(1);
  });
});
