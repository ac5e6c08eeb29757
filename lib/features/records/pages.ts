import 'server-only';
import { and, eq, inArray, or, sql } from 'drizzle-orm';
import type { Queryable, Tx } from '@/db/client';
import { chartPages } from '@/db/schema';
import { DecryptionError, sealContext, type PatientCipher } from '@/lib/platform/crypto';
import type { EntrySection } from '@/lib/features/records/tables';

/**
 * Chart entries are sealed a page at a time. Each AES-GCM envelope costs a fixed cipher set-up
 * (about 6 µs in Node) that dwarfs a 100-300 byte entry, so one envelope per entry made opening
 * a chart 20x the raw cipher time; a page of entries costs one set-up. A page is closed once it
 * holds PAGE_MAX_ENTRIES entries or PAGE_MAX_BYTES of JSON, so a write re-seals a bounded amount
 * and a chart opens only the newest pages of each section.
 *
 * The envelope's associated data names patient, section and page number, so a page copied to
 * another patient, section or page does not open; bodies inside are keyed by entry id, so an
 * entry row pointed at the wrong page finds nothing there and its section reads as unavailable.
 */
export const PAGE_MAX_ENTRIES = 32;
export const PAGE_MAX_BYTES = 16 * 1024;

/** Entry id -> entry body (the section's zod shape). */
export type PageEntries = Record<string, Record<string, unknown>>;

const TABLE = 'chart_pages';
const COLUMN = 'sealed_entries';
/** First key of the two-key advisory lock; the second is a hash of patient and section. */
const PAGE_LOCK_CLASS = 0x56494750; // 'VIGP'

function pageRowId(patientId: string, section: EntrySection, pageNo: number): string {
  return `${patientId}/${section}/${pageNo}`;
}

/** The envelope context a page is sealed under (what the benchmark seals, byte for byte). */
export function pageContext(patientId: string, section: EntrySection, pageNo: number): string {
  return sealContext(TABLE, COLUMN, pageRowId(patientId, section, pageNo));
}

export function sealPage(cipher: PatientCipher, section: EntrySection, pageNo: number, entries: PageEntries): string {
  return cipher.seal(TABLE, COLUMN, pageRowId(cipher.patientId, section, pageNo), entries);
}

/** Opens a page; throws DecryptionError when it was tampered with, moved or sealed with another key. */
export function openPage(cipher: PatientCipher, section: EntrySection, pageNo: number, sealed: string): PageEntries {
  const entries = cipher.open<PageEntries>(TABLE, COLUMN, pageRowId(cipher.patientId, section, pageNo), sealed);
  if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) {
    throw new DecryptionError(`${TABLE}.${COLUMN}`);
  }
  return entries;
}

/** Whether one more entry of `bytes` still fits on a page already holding `entries`. */
function fits(count: number, bytes: number, extra: number): boolean {
  return count === 0 || (count < PAGE_MAX_ENTRIES && bytes + extra <= PAGE_MAX_BYTES);
}

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

/**
 * Packs entries (oldest first) onto pages, continuing `last` (the section's newest page) while it
 * has room. Returns the pages to write and each entry's page number.
 */
export function packEntries(
  items: ReadonlyArray<{ id: string; body: Record<string, unknown> }>,
  last: { pageNo: number; entries: PageEntries } | undefined,
): { pages: Map<number, PageEntries>; pageOf: Map<string, number> } {
  const pages = new Map<number, PageEntries>();
  const pageOf = new Map<string, number>();
  let pageNo = last?.pageNo ?? 0;
  let current: PageEntries = last ? { ...last.entries } : {};
  let count = Object.keys(current).length;
  let bytes = count ? jsonBytes(current) : 2;
  for (const { id, body } of items) {
    const extra = jsonBytes(body) + id.length + 4;
    if (!fits(count, bytes, extra)) {
      pages.set(pageNo, current);
      pageNo += 1;
      current = {};
      count = 0;
      bytes = 2;
    }
    current[id] = body;
    count += 1;
    bytes += extra;
    pageOf.set(id, pageNo);
  }
  if (count > 0) pages.set(pageNo, current);
  return { pages, pageOf };
}

/**
 * Serialises writers of one patient's section until the transaction ends: an append or edit is a
 * read-modify-write of a whole page, and two of them at once would drop one entry. Charts are
 * read without it (a page row is replaced atomically).
 */
async function lockSection(tx: Tx, patientId: string, section: EntrySection): Promise<void> {
  await tx.execute(sql`SELECT pg_advisory_xact_lock(${PAGE_LOCK_CLASS}, hashtext(${`${patientId}/${section}`}))`);
}

async function writePages(tx: Tx, cipher: PatientCipher, section: EntrySection, pages: Map<number, PageEntries>): Promise<void> {
  for (const [pageNo, entries] of pages) {
    const sealedEntries = sealPage(cipher, section, pageNo, entries);
    await tx
      .insert(chartPages)
      .values({ patientId: cipher.patientId, section, pageNo, sealedEntries })
      .onConflictDoUpdate({
        target: [chartPages.patientId, chartPages.section, chartPages.pageNo],
        set: { sealedEntries, updatedAt: new Date() },
      });
  }
}

/**
 * Adds entries (oldest first) to a section's pages inside the caller's transaction and returns
 * each entry's page number, for the entry rows. Throws DecryptionError if the newest page will
 * not open: appending would otherwise re-seal it without the entries it could not read.
 */
export async function appendEntries(
  tx: Tx,
  cipher: PatientCipher,
  section: EntrySection,
  items: ReadonlyArray<{ id: string; body: Record<string, unknown> }>,
): Promise<Map<string, number>> {
  await lockSection(tx, cipher.patientId, section);
  const [newest] = await tx
    .select({ pageNo: chartPages.pageNo, sealedEntries: chartPages.sealedEntries })
    .from(chartPages)
    .where(and(eq(chartPages.patientId, cipher.patientId), eq(chartPages.section, section)))
    .orderBy(sql`${chartPages.pageNo} DESC`)
    .limit(1);
  const last = newest ? { pageNo: newest.pageNo, entries: openPage(cipher, section, newest.pageNo, newest.sealedEntries) } : undefined;
  const { pages, pageOf } = packEntries(items, last);
  await writePages(tx, cipher, section, pages);
  return pageOf;
}

/**
 * For an edit: locks the section's pages for the rest of the transaction, then opens one page
 * (undefined when it does not exist). Throws DecryptionError when it will not open.
 */
export async function openPageForEdit(tx: Tx, cipher: PatientCipher, section: EntrySection, pageNo: number): Promise<PageEntries | undefined> {
  await lockSection(tx, cipher.patientId, section);
  return loadPage(tx, cipher, section, pageNo);
}

/** Re-seals a page opened with openPageForEdit (its section lock is still held). */
export async function savePage(tx: Tx, cipher: PatientCipher, section: EntrySection, pageNo: number, entries: PageEntries): Promise<void> {
  await writePages(tx, cipher, section, new Map([[pageNo, entries]]));
}

async function loadPage(tx: Tx, cipher: PatientCipher, section: EntrySection, pageNo: number): Promise<PageEntries | undefined> {
  const [row] = await tx
    .select({ sealedEntries: chartPages.sealedEntries })
    .from(chartPages)
    .where(and(eq(chartPages.patientId, cipher.patientId), eq(chartPages.section, section), eq(chartPages.pageNo, pageNo)))
    .limit(1);
  return row ? openPage(cipher, section, pageNo, row.sealedEntries) : undefined;
}

/**
 * The sealed pages a chart needs, all sections in one query: `wanted` maps each section to the
 * page numbers its shown entries live on. Opening is left to the caller, section by section.
 */
export async function loadSealedPages(
  q: Queryable,
  patientId: string,
  wanted: ReadonlyMap<EntrySection, readonly number[]>,
): Promise<Map<string, string>> {
  const bySection = [...wanted].filter(([, pageNos]) => pageNos.length > 0);
  if (bySection.length === 0) return new Map();
  const rows = await q
    .select({ section: chartPages.section, pageNo: chartPages.pageNo, sealedEntries: chartPages.sealedEntries })
    .from(chartPages)
    .where(
      and(
        eq(chartPages.patientId, patientId),
        or(...bySection.map(([section, pageNos]) => and(eq(chartPages.section, section), inArray(chartPages.pageNo, [...pageNos])))),
      ),
    );
  return new Map(rows.map((row) => [pageKey(row.section as EntrySection, row.pageNo), row.sealedEntries]));
}

export function pageKey(section: EntrySection, pageNo: number): string {
  return `${section}/${pageNo}`;
}
