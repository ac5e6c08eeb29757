import 'server-only';
import { and, eq, inArray, or, sql } from 'drizzle-orm';
import { unionAll } from 'drizzle-orm/pg-core';
import type { Queryable, Tx } from '@/db/client';
import { chartPages, chartSectionHeads } from '@/db/schema';
import { DecryptionError, sealContext, type PatientCipher } from '@/lib/platform/crypto';
import type { EntrySection } from '@/lib/features/records/tables';

/**
 * Chart entries are sealed a page at a time. Each AES-GCM envelope costs a fixed cipher set-up
 * (about 6 µs in Node) that dwarfs a 100-300 byte entry, so one envelope per entry made opening
 * a chart 20x the raw cipher time; a page of entries costs one set-up. A page is closed once it
 * holds PAGE_MAX_ENTRIES entries or PAGE_MAX_BYTES of JSON, so a write re-seals a bounded amount
 * and a chart opens only the newest pages of each section.
 *
 * The envelope's associated data names patient, section, page number and the page's version,
 * so a page copied to another patient, section or page does not open; bodies inside are keyed by
 * entry id, so an entry row pointed at the wrong page finds nothing there and its section reads
 * as unavailable.
 *
 * Each section also has a sealed head (`chart_section_heads`): every page's current version and
 * entry count, and the section's total. The head is sealed with the patient's key, so nobody
 * without it can write one. A page put back to an older ciphertext carries an older version than
 * the head names (or, with its version column moved forward, no longer opens); a deleted entry
 * row leaves its page and the head counting one more entry than the rows. Either way the section
 * reads as unavailable and the chart read reports it (see chart.ts).
 */
export const PAGE_MAX_ENTRIES = 32;
export const PAGE_MAX_BYTES = 16 * 1024;

/** Entry id -> entry body (the section's zod shape). */
export type PageEntries = Record<string, Record<string, unknown>>;

const TABLE = 'chart_pages';
const COLUMN = 'sealed_entries';
/** First key of the two-key advisory lock; the second is a hash of patient and section. */
const PAGE_LOCK_CLASS = 0x56494750; // 'VIGP'

/** Version 0 is a page sealed before versions (bound to its place only), opened once by the upgrade that versions it. */
function pageRowId(patientId: string, section: EntrySection, pageNo: number, version: number): string {
  return version === 0 ? `${patientId}/${section}/${pageNo}` : `${patientId}/${section}/${pageNo}@${version}`;
}

/** The envelope context a page is sealed under (what the benchmark seals, byte for byte). */
export function pageContext(patientId: string, section: EntrySection, pageNo: number, version: number): string {
  return sealContext(TABLE, COLUMN, pageRowId(patientId, section, pageNo, version));
}

export function sealPage(cipher: PatientCipher, section: EntrySection, pageNo: number, version: number, entries: PageEntries): string {
  return cipher.seal(TABLE, COLUMN, pageRowId(cipher.patientId, section, pageNo, version), entries);
}

/** Opens a page; throws DecryptionError when it was tampered with, moved, rolled back or sealed with another key. */
export function openPage(cipher: PatientCipher, section: EntrySection, pageNo: number, version: number, sealed: string): PageEntries {
  const entries = cipher.open<PageEntries>(TABLE, COLUMN, pageRowId(cipher.patientId, section, pageNo, version), sealed);
  if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) {
    throw new DecryptionError(`${TABLE}.${COLUMN}`);
  }
  return entries;
}

/** What a section's head vouches for: each page's version and entry count (by page number), and the total. */
export interface SectionHead {
  pages: Record<string, { version: number; entries: number }>;
  total: number;
}
const HEAD_TABLE = 'chart_section_heads';
const HEAD_COLUMN = 'sealed_head';
const emptyHead = (): SectionHead => ({ pages: {}, total: 0 });

export function sealHead(cipher: PatientCipher, section: EntrySection, head: SectionHead): string {
  return cipher.seal(HEAD_TABLE, HEAD_COLUMN, `${cipher.patientId}/${section}`, head);
}

/** Opens a head; throws DecryptionError when it was tampered with, moved or sealed with another key. */
export function openHead(cipher: PatientCipher, section: EntrySection, sealed: string): SectionHead {
  const head = cipher.open<SectionHead>(HEAD_TABLE, HEAD_COLUMN, `${cipher.patientId}/${section}`, sealed);
  if (typeof head !== 'object' || head === null || typeof head.pages !== 'object' || typeof head.total !== 'number') {
    throw new DecryptionError(`${HEAD_TABLE}.${HEAD_COLUMN}`);
  }
  return head;
}

/**
 * The head after writing `pages` (each page's whole new content): their versions move on by one.
 * `added` is how many of their entries are new.
 */
export function advanceHead(head: SectionHead, pages: ReadonlyMap<number, PageEntries>, added: number): SectionHead {
  return advanceHeadCounts(head, new Map([...pages].map(([pageNo, entries]) => [pageNo, Object.keys(entries).length])), added);
}

/** advanceHead for pages given by their entry counts. */
function advanceHeadCounts(head: SectionHead, counts: ReadonlyMap<number, number>, added: number): SectionHead {
  const next: SectionHead = { pages: { ...head.pages }, total: head.total + added };
  for (const [pageNo, entries] of counts) {
    next.pages[pageNo] = { version: (head.pages[pageNo]?.version ?? 0) + 1, entries };
  }
  return next;
}

/** Whether one more entry of `bytes` still fits on a page already holding `entries`. */
function fits(count: number, bytes: number, extra: number): boolean {
  return count === 0 || (count < PAGE_MAX_ENTRIES && bytes + extra <= PAGE_MAX_BYTES);
}

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');
/** What one entry adds to its page's JSON: its body, its id as the key, quotes, colon and comma. */
const entryBytes = (id: string, bodyBytes: number) => bodyBytes + id.length + 4;

/**
 * Each item (an entry, oldest first, adding `extra(item)` bytes: entryBytes) with its page
 * number, continuing page `pageNo` that already holds `count` entries of `bytes` bytes of JSON
 * while it has room.
 */
function assignPages<T>(items: readonly T[], extra: (item: T) => number, pageNo: number, count: number, bytes: number): Array<{ item: T; pageNo: number }> {
  return items.map((item) => {
    const added = extra(item);
    if (!fits(count, bytes, added)) {
      pageNo += 1;
      count = 0;
      bytes = 2;
    }
    count += 1;
    bytes += added;
    return { item, pageNo };
  });
}

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
  const count = last ? Object.keys(last.entries).length : 0;
  if (last && count > 0) pages.set(last.pageNo, { ...last.entries });
  const bytes = last && count > 0 ? jsonBytes(last.entries) : 2;
  for (const { item, pageNo } of assignPages(items, ({ id, body }) => entryBytes(id, jsonBytes(body)), last?.pageNo ?? 0, count, bytes)) {
    let page = pages.get(pageNo);
    if (!page) pages.set(pageNo, (page = {}));
    page[item.id] = item.body;
    pageOf.set(item.id, pageNo);
  }
  return { pages, pageOf };
}

/**
 * A new section's entries (oldest first) packed and sealed exactly as appendEntries leaves a
 * section that had none (packEntries, then the pages and head writePages seals), for bulk
 * writers (the seed): each entry's JSON is made once, to size it and to seal its page, not once
 * for each. A page's JSON is its entries' in order under their ids, as JSON.stringify writes an
 * object whose keys are not array indexes (entry ids are UUIDs).
 */
export function sealNewEntries(
  cipher: PatientCipher,
  section: EntrySection,
  items: ReadonlyArray<{ id: string; body: Record<string, unknown> }>,
): { pages: Array<{ pageNo: number; version: number; sealedEntries: string }>; sealedHead: string | undefined; pageOf: Map<string, number> } {
  const sized = items.map(({ id, body }) => {
    const json = JSON.stringify(body);
    return { id, json, bytes: entryBytes(id, Buffer.byteLength(json, 'utf8')) };
  });
  const texts = new Map<number, string[]>();
  const pageOf = new Map<string, number>();
  for (const { item, pageNo } of assignPages(sized, (entry) => entry.bytes, 0, 0, 2)) {
    let parts = texts.get(pageNo);
    if (!parts) texts.set(pageNo, (parts = []));
    parts.push(`${JSON.stringify(item.id)}:${item.json}`);
    pageOf.set(item.id, pageNo);
  }
  if (texts.size === 0) return { pages: [], sealedHead: undefined, pageOf };
  const head = advanceHeadCounts(emptyHead(), new Map([...texts].map(([pageNo, parts]) => [pageNo, parts.length])), items.length);
  const pages = [...texts].map(([pageNo, parts]) => {
    const { version } = head.pages[pageNo]!;
    return { pageNo, version, sealedEntries: cipher.sealText(TABLE, COLUMN, pageRowId(cipher.patientId, section, pageNo, version), `{${parts.join(',')}}`) };
  });
  return { pages, sealedHead: sealHead(cipher, section, head), pageOf };
}

/**
 * Serialises writers of one patient's section until the transaction ends: an append or edit is a
 * read-modify-write of a whole page, and two of them at once would drop one entry. Charts are
 * read without it (a page row is replaced atomically).
 */
async function lockSection(tx: Tx, patientId: string, section: EntrySection): Promise<void> {
  await tx.execute(sql`SELECT pg_advisory_xact_lock(${PAGE_LOCK_CLASS}, hashtext(${`${patientId}/${section}`}))`);
}

/**
 * Waits until no write of these sections is in flight and keeps new ones out until the caller's
 * transaction ends: a shared hold on the locks writers take (lockSection). A chart read whose
 * rows and pages disagree reads them again under it before calling the section tampered.
 */
export async function holdSectionsSteady(tx: Tx, patientId: string, sections: readonly EntrySection[]): Promise<void> {
  for (const section of sections) await tx.execute(sql`SELECT pg_advisory_xact_lock_shared(${PAGE_LOCK_CLASS}, hashtext(${`${patientId}/${section}`}))`);
}

/**
 * The section's head, opened, under the section lock. A section without a head is empty — unless
 * it has pages, which only a head-less write from outside Vigil leaves (or a rolled-back head
 * deleted to hide it): that section cannot be trusted, and DecryptionError says so.
 */
async function loadHead(tx: Tx, cipher: PatientCipher, section: EntrySection): Promise<SectionHead> {
  const [row] = await tx
    .select({ sealedHead: chartSectionHeads.sealedHead })
    .from(chartSectionHeads)
    .where(and(eq(chartSectionHeads.patientId, cipher.patientId), eq(chartSectionHeads.section, section)))
    .limit(1);
  if (row) return openHead(cipher, section, row.sealedHead);
  const [page] = await tx
    .select({ pageNo: chartPages.pageNo })
    .from(chartPages)
    .where(and(eq(chartPages.patientId, cipher.patientId), eq(chartPages.section, section)))
    .limit(1);
  return headless(Boolean(page));
}

/** A section without a head: empty, unless it has pages (then it cannot be trusted, as loadHead says). */
function headless(hasPages: boolean): SectionHead {
  if (hasPages) throw new DecryptionError(`${HEAD_TABLE}.${HEAD_COLUMN}`);
  return emptyHead();
}

/**
 * Writes whole pages and the head that names their new versions, in the caller's transaction:
 * one statement, the pages' upsert (every page in one multi-row INSERT) in a data-modifying WITH
 * of the head's. The caller holds the section lock, so nothing else writes either in between.
 */
async function writePages(tx: Tx, cipher: PatientCipher, section: EntrySection, head: SectionHead, pages: Map<number, PageEntries>, added: number): Promise<void> {
  const next = advanceHead(head, pages, added);
  const at = new Date();
  const rows = [...pages].map(([pageNo, entries]) => {
    const { version } = next.pages[pageNo]!;
    return { patientId: cipher.patientId, section, pageNo, version, sealedEntries: sealPage(cipher, section, pageNo, version, entries), updatedAt: at };
  });
  const sealedHead = sealHead(cipher, section, next);
  const writeHead = (q: Pick<Tx, 'insert'>) =>
    q
      .insert(chartSectionHeads)
      .values({ patientId: cipher.patientId, section, sealedHead, updatedAt: at })
      .onConflictDoUpdate({ target: [chartSectionHeads.patientId, chartSectionHeads.section], set: { sealedHead, updatedAt: at } });
  if (rows.length === 0) {
    await writeHead(tx);
    return;
  }
  const written = tx.$with('written_pages').as(
    tx
      .insert(chartPages)
      .values(rows)
      .onConflictDoUpdate({
        target: [chartPages.patientId, chartPages.section, chartPages.pageNo],
        set: { sealedEntries: sql.raw(`excluded.${chartPages.sealedEntries.name}`), version: sql.raw(`excluded.${chartPages.version.name}`), updatedAt: at },
      }),
  );
  await writeHead(tx.with(written));
}

/** A page row opened against the head: the version it carries must be the head's, and the count too. */
function openVouched(cipher: PatientCipher, section: EntrySection, head: SectionHead, row: { pageNo: number; version: number; sealedEntries: string }): PageEntries {
  const vouched = head.pages[row.pageNo];
  if (!vouched || vouched.version !== row.version) throw new DecryptionError(`${TABLE}.version`);
  const entries = openPage(cipher, section, row.pageNo, row.version, row.sealedEntries);
  if (Object.keys(entries).length !== vouched.entries) throw new DecryptionError(`${TABLE}.${COLUMN}`);
  return entries;
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
  // After the lock, in one statement: the head and the newest page (which also says whether any page exists, as loadHead asks).
  const newestPage = tx
    .select({ pageNo: chartPages.pageNo, version: chartPages.version, sealed: chartPages.sealedEntries })
    .from(chartPages)
    .where(and(eq(chartPages.patientId, cipher.patientId), eq(chartPages.section, section)))
    .orderBy(sql`${chartPages.pageNo} DESC`)
    .limit(1);
  const headRow = tx
    .select({ pageNo: sql<number>`${HEAD_SLOT}::int`, version: sql<number>`0::int`, sealed: chartSectionHeads.sealedHead })
    .from(chartSectionHeads)
    .where(and(eq(chartSectionHeads.patientId, cipher.patientId), eq(chartSectionHeads.section, section)))
    .limit(1);
  const found = await unionAll(newestPage, headRow);
  const sealedHead = found.find((row) => row.pageNo === HEAD_SLOT)?.sealed;
  const page = found.find((row) => row.pageNo !== HEAD_SLOT);
  const newest = page && { pageNo: page.pageNo, version: page.version, sealedEntries: page.sealed };
  const head = sealedHead !== undefined ? openHead(cipher, section, sealedHead) : headless(Boolean(newest));
  const last = newest ? { pageNo: newest.pageNo, entries: openVouched(cipher, section, head, newest) } : undefined;
  const { pages, pageOf } = packEntries(items, last);
  await writePages(tx, cipher, section, head, pages, items.length);
  return pageOf;
}

/**
 * Gives a section sealed before versions (every page at version 0, no head) its versioned pages
 * and head, under the section lock: each page is opened at version 0 and sealed again at
 * version 1. A section that has a head or any versioned page is left alone (`skipped`): only
 * Vigil's own writes make those, and re-trusting such a section would let a deleted head
 * launder a rolled-back page. A page that will not open leaves the section as it was.
 */
export async function versionLegacySection(tx: Tx, cipher: PatientCipher, section: EntrySection): Promise<'versioned' | 'skipped' | 'unreadable'> {
  await lockSection(tx, cipher.patientId, section);
  const [head] = await tx
    .select({ section: chartSectionHeads.section })
    .from(chartSectionHeads)
    .where(and(eq(chartSectionHeads.patientId, cipher.patientId), eq(chartSectionHeads.section, section)))
    .limit(1);
  const rows = await tx
    .select({ pageNo: chartPages.pageNo, version: chartPages.version, sealedEntries: chartPages.sealedEntries })
    .from(chartPages)
    .where(and(eq(chartPages.patientId, cipher.patientId), eq(chartPages.section, section)));
  if (head || rows.length === 0 || rows.some((row) => row.version !== 0)) return 'skipped';
  const pages = new Map<number, PageEntries>();
  try {
    for (const row of rows) pages.set(row.pageNo, openPage(cipher, section, row.pageNo, 0, row.sealedEntries));
  } catch (error) {
    if (error instanceof DecryptionError) return 'unreadable';
    throw error;
  }
  const entries = [...pages.values()].reduce((n, page) => n + Object.keys(page).length, 0);
  await writePages(tx, cipher, section, emptyHead(), pages, entries);
  return 'versioned';
}

/**
 * For an edit: locks the section's pages for the rest of the transaction, then opens one page
 * (undefined when it does not exist). Throws DecryptionError when it will not open.
 */
export async function openPageForEdit(tx: Tx, cipher: PatientCipher, section: EntrySection, pageNo: number): Promise<PageEntries | undefined> {
  await lockSection(tx, cipher.patientId, section);
  return loadPage(tx, cipher, section, pageNo);
}

/** Re-seals a page opened with openPageForEdit (its section lock is still held); its entries are the same ids, changed. */
export async function savePage(tx: Tx, cipher: PatientCipher, section: EntrySection, pageNo: number, entries: PageEntries): Promise<void> {
  await writePages(tx, cipher, section, await loadHead(tx, cipher, section), new Map([[pageNo, entries]]), 0);
}

async function loadPage(tx: Tx, cipher: PatientCipher, section: EntrySection, pageNo: number): Promise<PageEntries | undefined> {
  const head = await loadHead(tx, cipher, section);
  const [row] = await tx
    .select({ pageNo: chartPages.pageNo, version: chartPages.version, sealedEntries: chartPages.sealedEntries })
    .from(chartPages)
    .where(and(eq(chartPages.patientId, cipher.patientId), eq(chartPages.section, section), eq(chartPages.pageNo, pageNo)))
    .limit(1);
  return row ? openVouched(cipher, section, head, row) : undefined;
}

/** The page number a sealed head travels under in loadSealedPages' one query (page numbers start at 0). */
const HEAD_SLOT = -1;

export interface SealedSection {
  /** The sealed head; undefined when the section has none. */
  head: string | undefined;
  pages: Map<number, { version: number; sealedEntries: string }>;
}

/**
 * The sealed pages a chart needs and their sections' heads, all sections in one query: `wanted`
 * maps each section to the page numbers its shown entries live on. Opening is left to the
 * caller, section by section (openSealedSection).
 */
export async function loadSealedPages(
  q: Queryable,
  patientId: string,
  wanted: ReadonlyMap<EntrySection, readonly number[]>,
): Promise<Map<EntrySection, SealedSection>> {
  // Every wanted section's head, even one with no page wanted: a head counting entries whose rows are gone is the tamper to see.
  const found = new Map<EntrySection, SealedSection>([...wanted.keys()].map((section) => [section, { head: undefined, pages: new Map() }]));
  if (found.size === 0) return found;
  const bySection = [...wanted].filter(([, pageNos]) => pageNos.length > 0);
  const pages = q
    .select({ section: chartPages.section, pageNo: chartPages.pageNo, version: chartPages.version, sealed: chartPages.sealedEntries })
    .from(chartPages)
    .where(
      and(
        eq(chartPages.patientId, patientId),
        bySection.length ? or(...bySection.map(([section, pageNos]) => and(eq(chartPages.section, section), inArray(chartPages.pageNo, [...pageNos])))) : sql`false`,
      ),
    );
  const heads = q
    .select({ section: chartSectionHeads.section, pageNo: sql<number>`${HEAD_SLOT}::int`, version: sql<number>`0::int`, sealed: chartSectionHeads.sealedHead })
    .from(chartSectionHeads)
    .where(and(eq(chartSectionHeads.patientId, patientId), inArray(chartSectionHeads.section, [...found.keys()])));
  for (const row of await pages.unionAll(heads)) {
    const into = found.get(row.section as EntrySection);
    if (!into) continue;
    if (row.pageNo === HEAD_SLOT) into.head = row.sealed;
    else into.pages.set(row.pageNo, { version: row.version, sealedEntries: row.sealed });
  }
  return found;
}

/**
 * Opens what loadSealedPages found for one section, every page against the section's head.
 * Throws DecryptionError when the head is missing or will not open, or a page is missing, rolled
 * back, tampered with or holds another number of entries than the head says.
 */
export function openSealedSection(cipher: PatientCipher, section: EntrySection, sealed: SealedSection | undefined): { head: SectionHead; pages: Map<number, PageEntries> } {
  if (!sealed?.head) throw new DecryptionError(`${HEAD_TABLE}.${HEAD_COLUMN}`);
  const head = openHead(cipher, section, sealed.head);
  const pages = new Map<number, PageEntries>();
  for (const [pageNo, row] of sealed.pages) pages.set(pageNo, openVouched(cipher, section, head, { pageNo, ...row }));
  return { head, pages };
}
