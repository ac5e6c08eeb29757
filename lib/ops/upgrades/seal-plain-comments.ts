import 'server-only';
import { and, asc, count, eq, gt, like, sql } from 'drizzle-orm';
import type { Db } from '@/db/client';
import { breakGlassGrants, incidents } from '@/db/schema';
import { sealReviewComment } from '@/lib/features/break-glass/review-comment';
import { getPatientCiphers } from '@/lib/platform/crypto';
import { sealResolutionComment } from '@/lib/features/monitor/resolution-comment';

/**
 * Migration 0004 renamed `review_comment` and `resolution_comment` to their `sealed_*` names and
 * prefixed the plain comments already stored with this marker (a sealed envelope is base64url,
 * so it never contains the colon). Only this step, which has the keys, can seal them.
 */
export const PLAIN_COMMENT_MARKER = 'plain:';
const MARKED = `${PLAIN_COMMENT_MARKER}%`;

export interface SealCommentsProgress {
  /** Break-glass review comments sealed with their patient's data key. */
  reviewComments: number;
  /** Incident resolution comments sealed with the system key. */
  resolutionComments: number;
  /** Review comments of crypto-shredded patients: no key to seal with, so the plain text is dropped. */
  erased: number;
}

export interface SealCommentsOptions {
  /** Rows per transaction. */
  batchSize?: number;
  /** Called after each committed batch. */
  onProgress?: (done: SealCommentsProgress) => void;
}

/** How many comments are still stored in plain text. */
export async function countPlainComments(db: Db): Promise<number> {
  const [grants] = await db.select({ n: count() }).from(breakGlassGrants).where(like(breakGlassGrants.sealedReviewComment, MARKED));
  const [cases] = await db.select({ n: count() }).from(incidents).where(like(incidents.sealedResolutionComment, MARKED));
  return (grants?.n ?? 0) + (cases?.n ?? 0);
}

/**
 * Seals every comment migration 0004 marked as plain, a batch of rows per transaction in id order:
 * each row is sealed and its plain text overwritten in the same commit. Safe to stop and run
 * again, and a no-op once done: sealed values never carry the marker. A patient key that fails to
 * open stops the step (nothing of that batch changes) rather than dropping a readable comment.
 * The plain text also stays in WAL segments until they are recycled, and in earlier backups.
 */
export async function sealPlainComments(db: Db, options: SealCommentsOptions = {}): Promise<SealCommentsProgress> {
  const batchSize = options.batchSize ?? 200;
  const done: SealCommentsProgress = { reviewComments: 0, resolutionComments: 0, erased: 0 };
  const report = () => options.onProgress?.({ ...done });

  for (let after = ''; ; ) {
    const last = await db.transaction(async (tx) => {
      const batch = await tx
        .select({ id: breakGlassGrants.id, patientId: breakGlassGrants.patientId, comment: breakGlassGrants.sealedReviewComment })
        .from(breakGlassGrants)
        .where(and(like(breakGlassGrants.sealedReviewComment, MARKED), after ? gt(breakGlassGrants.id, after) : undefined))
        .orderBy(asc(breakGlassGrants.id))
        .limit(batchSize)
        .for('update');
      if (batch.length === 0) return undefined;
      const { ciphers, unavailable } = await getPatientCiphers(tx, [...new Set(batch.map((r) => r.patientId))]);
      if (unavailable.length > 0) throw new Error('A patient key would not open: check the key provider before upgrading.');
      for (const row of batch) {
        const cipher = ciphers.get(row.patientId);
        const sealed = cipher ? sealReviewComment(cipher, row.id, unmark(row.comment)) : null;
        await tx.update(breakGlassGrants).set({ sealedReviewComment: sealed }).where(eq(breakGlassGrants.id, row.id));
        if (cipher) done.reviewComments += 1;
        else done.erased += 1;
      }
      return batch.at(-1)?.id;
    });
    if (last === undefined) break;
    after = last;
    report();
  }

  for (let after = ''; ; ) {
    const last = await db.transaction(async (tx) => {
      const batch = await tx
        .select({ id: incidents.id, comment: incidents.sealedResolutionComment })
        .from(incidents)
        .where(and(like(incidents.sealedResolutionComment, MARKED), after ? gt(incidents.id, after) : undefined))
        .orderBy(asc(incidents.id))
        .limit(batchSize)
        .for('update');
      for (const row of batch) {
        const sealed = sealResolutionComment(row.id, unmark(row.comment));
        await tx.update(incidents).set({ sealedResolutionComment: sealed }).where(eq(incidents.id, row.id));
        done.resolutionComments += 1;
      }
      return batch.at(-1)?.id;
    });
    if (last === undefined) break;
    after = last;
    report();
  }
  // An UPDATE leaves the old row version, plain comment and all, in the table's files until
  // vacuum; VACUUM FULL rewrites both (small) tables without them. Outside any transaction.
  if (done.reviewComments + done.resolutionComments + done.erased > 0) {
    await db.execute(sql`VACUUM FULL ${breakGlassGrants}, ${incidents}`);
  }
  return done;
}

/** The comment as typed; only rows whose value carries the marker are selected. */
const unmark = (value: string | null) => (value ?? '').slice(PLAIN_COMMENT_MARKER.length);
