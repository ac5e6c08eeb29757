import 'server-only';
import { desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Db, Queryable } from '@/db/client';
import { auditLog } from '@/db/schema';
import { auditActions } from '@/lib/domain/audit/actions';
import { recordAudit } from '@/lib/platform/audit/append';
import type { ChainHead } from '@/lib/platform/audit/chain';
import {
  checkpointOf,
  checkpointPath,
  checkpointRegression,
  lockCheckpoints,
  processMemory,
  readCheckpoint,
  rememberCheckpoint,
  writeCheckpoint,
  type Checkpoint,
  type RecordedCheckpoint,
  type TrailMemory,
} from '@/lib/platform/audit/checkpoint';
import { describeVerification, verifyChain } from '@/lib/platform/audit/verify';

/**
 * Automatic checkpoints: a signed checkpoint of the head every CHECKPOINT_EVERY_ENTRIES entries
 * or CHECKPOINT_EVERY_MS, each recorded in the trail (`audit.checkpoint`) so the trail itself
 * says one existed. Each tick first holds what is there to what was: the chain is walked from
 * the last checkpoint, a missing or older checkpoint is an alarm (checkpointRegression), and a
 * head lower than the one this instance saw at the last tick means the newest entries, those no
 * checkpoint covers yet, were deleted. So a deleted tail or a rolled-back database is noticed
 * within one tick of the next check, naming the last checkpoint. With several chains, the head
 * remembered is every chain's: a tail cut from any one of them is named.
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

const naming = (checkpoint: Checkpoint | null) =>
  checkpoint ? ` Last checkpoint: seq ${checkpoint.seq}, written ${checkpoint.createdAt}.` : ' No checkpoint had been written.';

/** A chain that now ends before the position this instance saw it reach: its newest entries were deleted. */
function shrunkChain(seen: TrailMemory['headsSeen'], now: readonly ChainHead[]): string | null {
  for (const before of seen?.heads ?? []) {
    const end = now.find((h) => h.chain === before.chain)?.position ?? 0;
    if (end < before.position) return `Chain ${before.chain} of the audit trail ends at entry ${end}, but entry ${before.position} existed at ${seen!.at}: its newest entries were deleted.`;
  }
  return null;
}

/**
 * One check by one instance. The walk from the last checkpoint runs outside any transaction (on
 * PGlite a transaction would hold the one connection for its length); then every instance takes
 * its turn on lockCheckpoints to read the file (shared by the instances) and the trail's record
 * of it together, and to write the next one — so it never sees another instance's newer
 * checkpoint half-written, and a file that moved on during the walk means another instance has
 * just checked: this tick stands down.
 */
export async function checkpointTick(options: { db: Db; at: Date; file?: string; memory?: TrailMemory }): Promise<CheckpointTick> {
  const { db, at } = options;
  const file = options.file ?? checkpointPath();
  const memory = options.memory ?? processMemory();
  const before = readCheckpoint(file);
  const walked = await verifyChain({ db, from: before.status === 'valid' ? before.checkpoint : undefined });
  return db.transaction(async (tx): Promise<CheckpointTick> => {
    await lockCheckpoints(tx);
    const read = readCheckpoint(file);
    if (read.status === 'invalid') return { state: 'alarm', summary: read.reason, checkpoint: null };
    const last = read.status === 'valid' ? read.checkpoint : null;
    const regression = checkpointRegression(read, await latestRecordedCheckpoint(tx), file, memory);
    if (regression) return { state: 'alarm', summary: regression, checkpoint: last };
    const walkedFrom = before.status === 'valid' ? before.checkpoint.seq : null;
    if ((last?.seq ?? null) !== walkedFrom) return { state: 'unchanged', headSeq: walked.headSeq };

    if (!walked.ok) return { state: 'alarm', summary: `${describeVerification(walked)}${naming(last)}`, checkpoint: last };
    const shrunk = shrunkChain(memory.headsSeen, walked.heads);
    if (shrunk) return { state: 'alarm', summary: `${shrunk}${naming(last)}`, checkpoint: last };
    memory.headsSeen = { heads: walked.heads, at: at.toISOString() };

    // The checkpoint's own entry alone does not make the next one due, or an idle trail would tick forever.
    const since = walked.checked;
    const due = !last ? walked.headSeq > 0 : since >= CHECKPOINT_EVERY_ENTRIES || (since > 1 && at.getTime() - Date.parse(last.createdAt) >= CHECKPOINT_EVERY_MS);
    if (!due) return { state: 'unchanged', headSeq: walked.headSeq };

    const checkpoint = checkpointOf(walked, (last?.count ?? 0) + walked.checked, at.toISOString());
    writeCheckpoint(checkpoint, file);
    rememberCheckpoint(checkpoint, memory);
    await recordAudit(tx, {
      actor: { userId: null },
      action: auditActions.audit.checkpoint,
      resourceType: 'audit_log',
      outcome: 'allowed',
      occurredAt: at,
      details: { seq: checkpoint.seq, root: checkpoint.root, chains: checkpoint.heads.length, createdAt: checkpoint.createdAt },
    });
    return { state: 'written', checkpoint };
  });
}
