/**
 * The upgrade that binds chart pages stored before versions: a section as migration 0008 leaves
 * it (every page at version 0, sealed bound to its place only, and no head) reads as unavailable
 * until the step runs, then opens in full; the step is a no-op the second time, and it never
 * re-trusts a section that already had versioned pages (a deleted head stays an alarm).
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '@/db/client';
import { chartPages, chartSectionHeads, patients } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { getPatientCipher } from '@/lib/platform/crypto';
import { getChart } from '@/lib/features/records';
import { openPage, sealPage } from '@/lib/features/records/pages';
import type { EntrySection } from '@/lib/features/records/tables';
import { countUnversionedSections, versionChartPages } from '@/lib/ops/upgrades/version-chart-pages';
import { testDatabase, viewer } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';

let handle: TestDatabase;
let db: Db;
let physician: Viewer;
let patientIds: string[];

beforeAll(async () => {
  handle = await testDatabase({ patients: 4 });
  db = handle.db;
  physician = await viewer(db, 'physician@vigil.test');
  patientIds = (await db.select({ id: patients.id }).from(patients).orderBy(patients.id)).map((p) => p.id);
});
afterAll(async () => handle?.close());

/** Puts a patient's pages back the way they were stored before versions. */
async function downgrade(patientId: string): Promise<void> {
  const { cipher } = await getPatientCipher(db, patientId);
  for (const page of await db.select().from(chartPages).where(eq(chartPages.patientId, patientId))) {
    const section = page.section as EntrySection;
    const entries = openPage(cipher!, section, page.pageNo, page.version, page.sealedEntries);
    await db
      .update(chartPages)
      .set({ version: 0, sealedEntries: sealPage(cipher!, section, page.pageNo, 0, entries) })
      .where(and(eq(chartPages.patientId, patientId), eq(chartPages.section, section), eq(chartPages.pageNo, page.pageNo)));
  }
  await db.delete(chartSectionHeads).where(eq(chartSectionHeads.patientId, patientId));
}

async function statuses(patientId: string): Promise<string[]> {
  const chart = await getChart(physician, patientId);
  if (!chart.ok) throw new Error('The physician should see the chart.');
  return [...new Set(Object.values(chart.value.sections).map((s) => s.status))];
}

describe('binding pages stored before versions', () => {
  it('a downgraded chart is unavailable until the step runs, then opens; running again changes nothing', async () => {
    const [patientId] = patientIds;
    const before = await getChart(physician, patientId!);
    await downgrade(patientId!);
    const withEntries = before.ok ? Object.entries(before.value.sections).filter(([, v]) => v.status === 'ok' && v.entries.length > 0).map(([k]) => k) : [];
    expect(withEntries.length).toBeGreaterThan(0);
    const downgraded = await getChart(physician, patientId!);
    for (const section of withEntries) expect(downgraded.ok && downgraded.value.sections[section as EntrySection]?.status, section).toBe('unavailable');
    const sections = await countUnversionedSections(db);
    expect(sections).toBeGreaterThan(0);
    expect(await versionChartPages(db)).toEqual({ versioned: sections, unreadable: 0, erased: 0 });
    expect(await statuses(patientId!)).toEqual(['ok']);
    const after = await getChart(physician, patientId!);
    expect(after.ok && before.ok && after.value.sections).toEqual(before.ok && before.value.sections);
    expect(await countUnversionedSections(db)).toBe(0);
    expect(await versionChartPages(db)).toEqual({ versioned: 0, unreadable: 0, erased: 0 });
  });

  it('does not re-trust a section that has versioned pages but lost its head', async () => {
    const patientId = patientIds[1]!;
    await db.delete(chartSectionHeads).where(eq(chartSectionHeads.patientId, patientId));
    expect(await versionChartPages(db)).toEqual({ versioned: 0, unreadable: 0, erased: 0 });
    expect(await statuses(patientId)).toContain('unavailable');
  });
});
