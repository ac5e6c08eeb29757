import 'server-only';
import { and, asc, countDistinct, eq, gt, or, sql } from 'drizzle-orm';
import type { Db } from '@/db/client';
import { chartPages } from '@/db/schema';
import { getPatientCipher } from '@/lib/platform/crypto';
import { versionLegacySection } from '@/lib/features/records/pages';
import type { EntrySection } from '@/lib/features/records/tables';

/**
 * Migration 0010 gave chart pages a version (0 for every page already stored) and sections a
 * sealed head. Only this step, which has the keys, can bind each old page to its version and write
 * its section's head (lib/features/records/pages.ts versionLegacySection); until it has run, such
 * a section reads as unavailable. One section per transaction, in key order: safe to stop and run
 * again, and a no-op once done. Sections of crypto-shredded patients stay as they are (erased).
 */
export interface VersionPagesProgress {
  versioned: number;
  /** Sections with a page that would not open: left in place, they read as unavailable. */
  unreadable: number;
  /** Sections of crypto-shredded patients: nothing to open. */
  erased: number;
}

/** How many sections still have pages sealed before versions. */
export async function countUnversionedSections(db: Db): Promise<number> {
  const [row] = await db
    .select({ n: countDistinct(sql`(${chartPages.patientId}, ${chartPages.section})`) })
    .from(chartPages)
    .where(eq(chartPages.version, 0));
  return row?.n ?? 0;
}

export async function versionChartPages(db: Db, onProgress?: (done: VersionPagesProgress) => void): Promise<VersionPagesProgress> {
  const done: VersionPagesProgress = { versioned: 0, unreadable: 0, erased: 0 };
  let after: { patientId: string; section: string } | null = null;
  for (;;) {
    const batch: Array<{ patientId: string; section: string }> = await db
      .selectDistinct({ patientId: chartPages.patientId, section: chartPages.section })
      .from(chartPages)
      .where(
        and(
          eq(chartPages.version, 0),
          after ? or(gt(chartPages.patientId, after.patientId), and(eq(chartPages.patientId, after.patientId), gt(chartPages.section, after.section))) : undefined,
        ),
      )
      .orderBy(asc(chartPages.patientId), asc(chartPages.section))
      .limit(100);
    if (batch.length === 0) return done;
    for (const item of batch) {
      await db.transaction(async (tx) => {
        const { cipher } = await getPatientCipher(tx, item.patientId);
        if (!cipher) {
          done.erased += 1;
          return;
        }
        const outcome = await versionLegacySection(tx, cipher, item.section as EntrySection);
        if (outcome === 'versioned') done.versioned += 1;
        if (outcome === 'unreadable') done.unreadable += 1;
      });
    }
    after = batch[batch.length - 1]!;
    onProgress?.({ ...done });
  }
}
