import { migrateHandle, type DatabaseHandle } from '@/db/client';
import { countLegacyPatients, repackLegacyEntries } from '@/lib/records/repack';
import { progressReporter } from './cli';

/**
 * Brings a database to the current version: the SQL migrations, then the data step that needs
 * the keys — chart entries still sealed one per row are moved onto pages (resumable).
 */
export async function upgradeDatabase(handle: DatabaseHandle): Promise<void> {
  await migrateHandle(handle);
  const total = await countLegacyPatients(handle.db);
  if (total === 0) return;
  const report = progressReporter('Repacking chart entries onto pages');
  const done = await repackLegacyEntries(handle.db, (progress) => report(progress.patients, total));
  console.log(
    `Repacked ${done.entries} chart entries of ${done.patients} patients onto pages` +
      (done.erased ? `; dropped ${done.erased} unreadable entries of crypto-shredded patients` : '') +
      (done.unreadable ? `; ${done.unreadable} entries would not open and were left in place (their sections read as unavailable)` : '') +
      '.',
  );
}
