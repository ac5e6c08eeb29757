import { migrateHandle, type DatabaseHandle } from '@/db/client';
import { countPlainComments, sealPlainComments } from '@/lib/ops/upgrades/seal-plain-comments';
import { countLegacyPatients, repackLegacyEntries } from '@/lib/ops/repack';
import { countUnversionedSections, versionChartPages } from '@/lib/ops/upgrades/version-chart-pages';
import { countRowsWithoutMac, macAuthorizationRows } from '@/lib/ops/upgrades/mac-authorization-rows';
import { progressReporter } from './cli';

/**
 * Brings a database to the current version: the SQL migrations, then the data steps that need
 * the keys, each resumable — chart pages sealed before versions are bound to a version under a
 * sealed section head, chart entries still sealed one per row are moved onto pages, review
 * and incident comments stored before they were sealed are sealed, and the authorization rows
 * stored before they carried MACs get theirs (once per database: see mac-authorization-rows.ts).
 */
export async function upgradeDatabase(handle: DatabaseHandle): Promise<void> {
  await migrateHandle(handle);
  // First: until it has run, no session, role or care-team row stored before it counts.
  await macAuthorizationTables(handle);
  // Before repacking: appending to a section needs its head.
  await versionPages(handle);
  await repackChartEntries(handle);
  await sealReviewComments(handle);
}

async function macAuthorizationTables(handle: DatabaseHandle): Promise<void> {
  const total = await countRowsWithoutMac(handle.db);
  const report = progressReporter('Giving authorization rows their MACs');
  const done = await macAuthorizationRows(handle.db, (macked) => report(macked, total));
  if (done.alreadyDone) {
    if (done.untrusted) console.log(`${done.untrusted} authorization rows have no MAC although the back-fill ran before: they were written from outside Vigil and stay untrusted.`);
    return;
  }
  const macked = Object.values(done.macked).reduce((sum, n) => sum + n, 0);
  if (macked) console.log(`Gave ${macked} authorization rows (sessions, users, roles, care teams, grants) their MACs.`);
}

async function versionPages(handle: DatabaseHandle): Promise<void> {
  const total = await countUnversionedSections(handle.db);
  if (total === 0) return;
  const report = progressReporter('Binding chart pages to versions');
  const done = await versionChartPages(handle.db, (progress) => report(progress.versioned + progress.unreadable + progress.erased, total));
  console.log(
    `Bound the pages of ${done.versioned} chart sections to versions under sealed heads` +
      (done.unreadable ? `; ${done.unreadable} sections had a page that would not open and were left as they were (they read as unavailable)` : '') +
      '.',
  );
}

async function repackChartEntries(handle: DatabaseHandle): Promise<void> {
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

async function sealReviewComments(handle: DatabaseHandle): Promise<void> {
  const total = await countPlainComments(handle.db);
  if (total === 0) return;
  const report = progressReporter('Sealing plain review comments');
  const done = await sealPlainComments(handle.db, {
    onProgress: (progress) => report(progress.reviewComments + progress.resolutionComments + progress.erased, total),
  });
  console.log(
    `Sealed ${done.reviewComments} break-glass review comments and ${done.resolutionComments} incident resolution comments` +
      (done.erased ? `; dropped ${done.erased} review comments of crypto-shredded patients` : '') +
      '.',
  );
}
