import 'server-only';
import { and, asc, eq, gt, inArray, isNotNull, sql } from 'drizzle-orm';
import { rowsOf, type Db } from '@/db/client';
import { DecryptionError, getPatientCipher } from '@/lib/platform/crypto';
import { appendEntries } from '@/lib/features/records/pages';
import { entrySections, type EntrySection } from '@/lib/features/records/tables';

export interface RepackProgress {
  patients: number;
  entries: number;
  /** Entries whose own envelope would not open: left in place, their section reads as unavailable. */
  unreadable: number;
  /** Entries of crypto-shredded patients: unreadable by design, their old ciphertext is dropped. */
  erased: number;
}

const sections = Object.keys(entrySections) as EntrySection[];

/**
 * Moves entries stored the pre-page way (each sealing its own body in `sealed_body`) onto their
 * section's pages, one patient per transaction, oldest first. Safe to stop and run again: a
 * patient is either fully repacked or untouched, and only rows still holding a body are read.
 */
export async function repackLegacyEntries(db: Db, onProgress?: (done: RepackProgress) => void): Promise<RepackProgress> {
  const done: RepackProgress = { patients: 0, entries: 0, unreadable: 0, erased: 0 };
  let after = '';
  for (;;) {
    const patientId = await nextLegacyPatient(db, after);
    if (!patientId) return done;
    after = patientId;
    await db.transaction(async (tx) => {
      const { cipher, unavailable } = await getPatientCipher(tx, patientId);
      if (unavailable) throw new Error('A patient key would not open: check the key provider before migrating.');
      for (const section of sections) {
        const { table } = entrySections[section];
        const rows = await tx
          .select({ id: table.id, sealed: table.legacySealedBody })
          .from(table)
          .where(and(eq(table.patientId, patientId), isNotNull(table.legacySealedBody)))
          .orderBy(asc(table.createdAt), asc(table.id));
        if (rows.length === 0) continue;
        if (!cipher) {
          await tx.update(table).set({ legacySealedBody: null }).where(inArray(table.id, rows.map((r) => r.id)));
          done.erased += rows.length;
          continue;
        }
        const items = [];
        for (const row of rows) {
          try {
            items.push({ id: row.id, body: cipher.open<Record<string, unknown>>(section, 'sealed_body', row.id, row.sealed!) });
          } catch (error) {
            if (!(error instanceof DecryptionError)) throw error;
            done.unreadable += 1;
          }
        }
        if (items.length === 0) continue;
        const pageOf = await appendEntries(tx, cipher, section, items);
        // One update per page, not per entry: a patient's section fits on a page or two.
        const idsByPage = new Map<number, string[]>();
        for (const [id, pageNo] of pageOf) idsByPage.set(pageNo, [...(idsByPage.get(pageNo) ?? []), id]);
        for (const [pageNo, ids] of idsByPage) {
          await tx.update(table).set({ pageNo, legacySealedBody: null }).where(inArray(table.id, ids));
        }
        done.entries += items.length;
      }
    });
    done.patients += 1;
    onProgress?.({ ...done });
  }
}

/** The next patient (by id, after `after`) with an entry still holding its own sealed body. */
async function nextLegacyPatient(db: Db, after: string): Promise<string | undefined> {
  const candidates = await Promise.all(
    sections.map(async (section) => {
      const { table } = entrySections[section];
      const [row] = await db
        .select({ patientId: table.patientId })
        .from(table)
        .where(and(isNotNull(table.legacySealedBody), after ? gt(table.patientId, after) : sql`true`))
        .orderBy(asc(table.patientId))
        .limit(1);
      return row?.patientId;
    }),
  );
  return candidates.filter((id): id is string => id !== undefined).sort()[0];
}

/** How many patients still have entries stored the pre-page way (for progress). */
export async function countLegacyPatients(db: Db): Promise<number> {
  const union = sql.join(
    sections.map((section) => sql`SELECT patient_id FROM ${entrySections[section].table} WHERE sealed_body IS NOT NULL`),
    sql` UNION `,
  );
  const result = await db.execute(sql`SELECT count(*)::int AS n FROM (${union}) AS legacy`);
  return rowsOf<{ n: number }>(result)[0]?.n ?? 0;
}
