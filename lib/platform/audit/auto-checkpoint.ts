import 'server-only';
import { desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Db, Queryable } from '@/db/client';
import { auditLog } from '@/db/schema';
import { auditActions } from '@/lib/domain/audit/actions';
import { recordAudit } from '@/lib/platform/audit/append';
import { checkpointPath, checkpointRegression, readCheckpoint, rememberCheckpoint, writeCheckpoint, type Checkpoint, type RecordedCheckpoint } from '@/lib/platform/audit/checkpoint';
import { describeVerification, verifyChain } from '@/lib/platform/audit/verify';

/**
 * Automatic checkpoints: a signed checkpoint of the head every CHECKPOINT_EVERY_ENTRIES entries
 * or CHECKPOINT_EVERY_MS, each recorded in the trail (`audit.checkpoint`) so the trail itself
 * says one existed. Each tick first holds what is there to what was: the chain is walked from
 * the last checkpoint, a missing or older checkpoint is an alarm (checkpointRegression), and a
 * head lower than the one this process saw at the last tick means the newest entries, those no
 * checkpoint covers yet, were deleted. So a deleted tail or a rolled-back database is noticed
 * within one tick of the next check, naming the last checkpoint.
 */
export const CHECKPOINT_EVERY_ENTRIES = 1_000;
export const CHECKPOINT_EVERY_MS = 5 * 60_000;
/** How often the portal runs a tick (lib/features/audit-review/checkpointing.ts). */
export const CHECKPOINT_TICK_MS = 60_000;

export type CheckpointTick =
  | { state: 'unchanged'; headSeq: number }
  | { state: 'written'; checkpoint: Checkpoint }
  | { state: 'alarm'; summary: string; checkpoint: Checkpoint | null };

const recordedShape = z.object({ seq: z.number().int().min(0), createdAt: z.string() });

/** The newest checkpoint the trail records having written, if any. */
export async function latestRecordedCheckpoint(db: Queryable): Promise<RecordedCheckpoint | null> {
  const [row] = await db
    .select({ details: auditLog.details })
    .from(auditLog)
    .where(eq(auditLog.actionType, auditActions.audit.checkpoint))
    .orderBy(desc(auditLog.seq))
    .limit(1);
  const parsed = recordedShape.safeParse(row?.details);
  return parsed.success ? parsed.data : null;
}

const globalForHead = globalThis as unknown as { vigilHeadSeen?: { seq: number; at: string } };

const naming = (checkpoint: Checkpoint | null) =>
  checkpoint ? ` Last checkpoint: seq ${checkpoint.seq}, written ${checkpoint.createdAt}.` : ' No checkpoint had been written.';

export async function checkpointTick(options: { db: Db; at: Date; file?: string }): Promise<CheckpointTick> {
  const { db, at } = options;
  const file = options.file ?? checkpointPath();
  const read = readCheckpoint(file);
  if (read.status === 'invalid') return { state: 'alarm', summary: read.reason, checkpoint: null };
  const last = read.status === 'valid' ? read.checkpoint : null;
  const regression = checkpointRegression(read, await latestRecordedCheckpoint(db), file);
  if (regression) return { state: 'alarm', summary: regression, checkpoint: last };

  const result = await verifyChain({ db, from: last ?? undefined });
  if (!result.ok) return { state: 'alarm', summary: `${describeVerification(result)}${naming(last)}`, checkpoint: last };
  const seen = globalForHead.vigilHeadSeen;
  if (seen && result.headSeq < seen.seq) {
    return {
      state: 'alarm',
      summary: `The audit trail ends at seq ${result.headSeq}, but seq ${seen.seq} existed at ${seen.at}: its newest entries were deleted.${naming(last)}`,
      checkpoint: last,
    };
  }
  globalForHead.vigilHeadSeen = { seq: result.headSeq, at: at.toISOString() };

  // The checkpoint's own entry alone does not make the next one due, or an idle trail would tick forever.
  const since = result.headSeq - (last?.seq ?? 0);
  const due = !last ? result.headSeq > 0 : since >= CHECKPOINT_EVERY_ENTRIES || (since > 1 && at.getTime() - Date.parse(last.createdAt) >= CHECKPOINT_EVERY_MS);
  if (!due) return { state: 'unchanged', headSeq: result.headSeq };

  const checkpoint: Checkpoint = { version: 1, seq: result.headSeq, hash: result.headHash, count: result.headSeq, createdAt: at.toISOString() };
  writeCheckpoint(checkpoint, file);
  rememberCheckpoint(checkpoint);
  globalForHead.vigilHeadSeen = { seq: result.headSeq + 1, at: at.toISOString() };
  await db.transaction((tx) =>
    recordAudit(tx, {
      actor: { userId: null },
      action: auditActions.audit.checkpoint,
      resourceType: 'audit_log',
      outcome: 'allowed',
      occurredAt: at,
      details: { seq: checkpoint.seq, hash: checkpoint.hash, createdAt: checkpoint.createdAt },
    }),
  );
  return { state: 'written', checkpoint };
}
