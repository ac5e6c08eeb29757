/**
 * Chart pages: entries are packed onto bounded pages, a section spills onto a new page when one
 * is full, edits land on the entry's own page, the chart reads across pages, and writers that
 * race on one section (really concurrent on PostgreSQL) never drop an entry.
 */
import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartPages, vitals } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { installTestKeys, patientOnTeamOf, storedEntryBody, testDatabase, viewer } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { getChart } from '@/lib/features/records/chart';
import { advanceHead, openHead, openPage, packEntries, PAGE_MAX_BYTES, PAGE_MAX_ENTRIES, sealNewEntries } from '@/lib/features/records/pages';
import { newPatientKey } from '@/lib/platform/crypto';
import { sectionRowLimit } from '@/lib/features/records/tables';
import { addEntry, updateEntry } from '@/lib/features/records/writes';

const items = (count: number, size = 10) =>
  Array.from({ length: count }, (_, i) => ({ id: `id-${i}`, body: { text: `${i}`.padEnd(size, 'x') } }));

describe('packEntries', () => {
  it('fills a page up to the entry limit, then starts the next', () => {
    const { pages, pageOf } = packEntries(items(PAGE_MAX_ENTRIES * 2 + 1), undefined);
    expect([...pages.keys()]).toEqual([0, 1, 2]);
    expect(Object.keys(pages.get(0)!)).toHaveLength(PAGE_MAX_ENTRIES);
    expect(Object.keys(pages.get(2)!)).toEqual([`id-${PAGE_MAX_ENTRIES * 2}`]);
    expect(pageOf.get('id-0')).toBe(0);
    expect(pageOf.get(`id-${PAGE_MAX_ENTRIES}`)).toBe(1);
  });

  it('closes a page by size before the entry limit', () => {
    const { pages } = packEntries(items(4, PAGE_MAX_BYTES / 3), undefined);
    expect(pages.size).toBe(2);
    for (const page of pages.values()) expect(Buffer.byteLength(JSON.stringify(page))).toBeLessThanOrEqual(PAGE_MAX_BYTES);
  });

  it('puts an entry larger than a page on a page of its own', () => {
    const small = (id: string) => ({ id, body: { text: 'x' } });
    const { pages } = packEntries([small('a'), { id: 'big', body: { text: 'y'.repeat(PAGE_MAX_BYTES * 2) } }, small('b')], undefined);
    expect([...pages.values()].map((p) => Object.keys(p))).toEqual([['a'], ['big'], ['b']]);
  });

  it('continues the newest page while it has room, keeping what it held', () => {
    const last = { pageNo: 3, entries: { old: { text: 'kept' } } };
    const { pages, pageOf } = packEntries(items(2), last);
    expect(pages.get(3)).toEqual({ old: { text: 'kept' }, 'id-0': items(2)[0]!.body, 'id-1': items(2)[1]!.body });
    expect(pageOf.get('id-1')).toBe(3);
  });
});

describe('sealNewEntries (the bulk seed)', () => {
  it('seals the pages and head packEntries and an append would, byte for byte in the plaintext', () => {
    installTestKeys();
    const { cipher } = newPatientKey(randomUUID());
    const entry = (text: string) => ({ id: randomUUID(), body: { text, at: '2026-01-01T00:00:00.000Z', n: 1.5, nested: { list: [1, 'two', null] } } });
    const cases = [
      [],
      [entry('one')],
      Array.from({ length: PAGE_MAX_ENTRIES * 2 + 3 }, (_, i) => entry(`entry ${i} "quoted" \\ ünïcødé ✓`)),
      [entry('x'), entry('y'.repeat(PAGE_MAX_BYTES)), entry('z'), ...Array.from({ length: 3 }, () => entry('w'.repeat(PAGE_MAX_BYTES / 3)))],
    ];
    for (const items of cases) {
      const expected = packEntries(items, undefined);
      const sealed = sealNewEntries(cipher, 'vitals', items);
      expect(sealed.pageOf).toEqual(expected.pageOf);
      expect(sealed.pages.map((p) => p.pageNo)).toEqual([...expected.pages.keys()]);
      for (const page of sealed.pages) {
        expect(page.version).toBe(1);
        const opened = openPage(cipher, 'vitals', page.pageNo, page.version, page.sealedEntries);
        expect(JSON.stringify(opened)).toBe(JSON.stringify(expected.pages.get(page.pageNo)));
      }
      if (items.length === 0) expect(sealed.sealedHead).toBeUndefined();
      else expect(openHead(cipher, 'vitals', sealed.sealedHead!)).toEqual(advanceHead({ pages: {}, total: 0 }, expected.pages, items.length));
    }
  });
});

describe('a section across pages, through lib/features/records', () => {
  let handle: TestDatabase;
  let nurse: Viewer;
  let patientId: string;

  beforeAll(async () => {
    handle = await testDatabase({ patients: 12 });
    nurse = await viewer(handle.db, 'nurse@vigil.test');
    patientId = await patientOnTeamOf(handle.db, nurse.userId);
  });
  afterAll(async () => handle?.close());

  const reading = (n: number) => ({
    takenAt: new Date(Date.UTC(2026, 0, 1, 0, n)).toISOString(),
    heartRate: 60 + (n % 40),
    systolic: 120,
    diastolic: 80,
    temperatureC: 36.8,
    respiratoryRate: 16,
    spo2: 98,
  });

  async function pageNumbers(): Promise<number[]> {
    const rows = await handle.db
      .select({ pageNo: chartPages.pageNo })
      .from(chartPages)
      .where(and(eq(chartPages.patientId, patientId), eq(chartPages.section, 'vitals')))
      .orderBy(chartPages.pageNo);
    return rows.map((r) => r.pageNo);
  }

  it('spills onto new pages, reads across them and edits an entry on an old page', async () => {
    const added: string[] = [];
    for (let n = 0; n < PAGE_MAX_ENTRIES + 5; n++) {
      const result = await addEntry(nurse, { patientId, section: 'vitals', body: reading(n) });
      if (!result.ok) throw new Error(result.message);
      added.push(result.value.id);
    }
    expect((await pageNumbers()).length).toBeGreaterThanOrEqual(2);

    const chartResult = await getChart(nurse, patientId);
    if (!chartResult.ok) throw new Error('vitals should open');
    const chart = chartResult.value;
    if (chart.sections.vitals?.status !== 'ok') throw new Error('vitals should open');
    const shown = chart.sections.vitals.entries;
    expect(shown).toHaveLength(sectionRowLimit.vitals);
    for (const entry of shown) expect(entry.body).toEqual(await storedEntryBody(handle.db, 'vitals', entry.id));

    const oldest = added[0]!;
    const [row] = await handle.db.select().from(vitals).where(eq(vitals.id, oldest));
    expect(row!.pageNo).toBe(0);
    const edit = await updateEntry(nurse, { patientId, section: 'vitals', recordId: oldest, expectedVersion: row!.version, changes: { heartRate: 111 } });
    expect(edit).toMatchObject({ ok: true });
    expect(await storedEntryBody(handle.db, 'vitals', oldest)).toMatchObject({ heartRate: 111 });
    // Its page-mates are untouched.
    expect(await storedEntryBody(handle.db, 'vitals', added[1]!)).toEqual(reading(1));
  });

  it('never drops an entry when writers race on one section', async () => {
    const before = await handle.db.select({ id: vitals.id }).from(vitals).where(eq(vitals.patientId, patientId));
    const results = await Promise.all(Array.from({ length: 12 }, (_, n) => addEntry(nurse, { patientId, section: 'vitals', body: reading(500 + n) })));
    const ids = results.map((r) => (r.ok ? r.value.id : r.error));
    expect(results.every((r) => r.ok)).toBe(true);
    const after = await handle.db.select({ id: vitals.id }).from(vitals).where(eq(vitals.patientId, patientId));
    expect(after).toHaveLength(before.length + 12);
    for (const [n, id] of ids.entries()) expect(await storedEntryBody(handle.db, 'vitals', id)).toEqual(reading(500 + n));
  });
});
