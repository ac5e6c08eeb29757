import 'server-only';
import { z } from 'zod';
import { getDb, type Db } from '@/db/client';
import type { Viewer } from '@/lib/domain/access/viewer';
import { auditPermission } from '@/lib/domain/access/permission-names';
import { ok, type Result } from '@/lib/domain/result';
import { now as clockNow } from '@/lib/platform/clock';
import { latestRecordedCheckpoint } from '@/lib/platform/audit/auto-checkpoint';
import { advanceCheckpoint, checkpointOf, checkpointRegression, lockCheckpoints, readCheckpoint, type Checkpoint } from '@/lib/platform/audit/checkpoint';
import { describeVerification, verifyChain, type VerifyOptions, type VerifyResult } from '@/lib/platform/audit/verify';
import { operation, type OperationError } from '@/lib/pipeline/operation';
import { auditTrailDenied } from '@/lib/features/audit-review/query';
import { auditActions } from '@/lib/domain/audit/actions';

/**
 * The chain's state as the audit page shows it, cheaply: walked from the last signed checkpoint
 * to the head, at most STATUS_WALK_LIMIT entries per page view (a million-entry trail is not
 * walked on every page load). A full walk is `npm run audit:verify` or "Verify now".
 */
export const STATUS_WALK_LIMIT = 10_000;

export interface ChainStatus {
  state: 'ok' | 'broken' | 'partial' | 'checkpoint_invalid';
  summary: string;
  result: VerifyResult | null;
  checkpoint: Checkpoint | null;
}

export async function fullVerification(
  options: { writeCheckpoint?: boolean; onProgress?: VerifyOptions['onProgress']; db?: Db; checkpointFile?: string } = {},
): Promise<ChainStatus & { written: Checkpoint | null }> {
  const db = options.db ?? (await getDb());
  const read = readCheckpoint(options.checkpointFile);
  const checkpoint = read.status === 'valid' ? read.checkpoint : null;
  const result = await verifyChain({ db, onProgress: options.onProgress, checkpoint: checkpoint ?? undefined });
  if (read.status === 'invalid') return { state: 'checkpoint_invalid', summary: read.reason, result, checkpoint: null, written: null };
  // A missing or older checkpoint, once a newer one existed, fails the walk however the chain looks.
  const regression = checkpointRegression(read, await latestRecordedCheckpoint(db), options.checkpointFile);
  if (regression) return { state: 'checkpoint_invalid', summary: regression, result, checkpoint, written: null };
  let written: Checkpoint | null = null;
  if (result.ok && options.writeCheckpoint) {
    // The walk ran without the lock (it may take minutes); only the write waits for the other instances.
    const walked = checkpointOf(result, result.checked, clockNow().toISOString());
    written = await db.transaction(async (tx) => {
      await lockCheckpoints(tx);
      return advanceCheckpoint(walked, options.checkpointFile);
    });
  }
  return { state: result.ok ? 'ok' : 'broken', summary: describeVerification(result), result, checkpoint, written };
}

export async function chainStatus(db?: Db): Promise<ChainStatus> {
  const read = readCheckpoint();
  if (read.status === 'invalid') return { state: 'checkpoint_invalid', summary: read.reason, result: null, checkpoint: null };
  const checkpoint = read.status === 'valid' ? read.checkpoint : null;
  const regression = checkpointRegression(read, await latestRecordedCheckpoint(db ?? (await getDb())));
  if (regression) return { state: 'checkpoint_invalid', summary: regression, result: null, checkpoint };
  const result = await verifyChain({ db, from: checkpoint ?? undefined, limit: STATUS_WALK_LIMIT });
  return {
    state: !result.ok ? 'broken' : result.partial ? 'partial' : 'ok',
    summary: describeVerification(result),
    result,
    checkpoint,
  };
}

const verification = { category: 'audit', name: auditPermission.verify } as const;

/** A granted "Verify now": the walk itself, run when the caller is ready for it. */
export interface ChainWalk {
  run(): Promise<Result<ChainStatus, OperationError<never>>>;
}

/**
 * "Verify now" on the audit page: a full walk, recorded, and a new checkpoint when it passes.
 * The request is recorded (and committed) before the walk, so even a walk that never finishes
 * leaves its trace; the walk runs outside any transaction, because the trail's writers (every
 * clinician's access) wait on a transaction that has appended to it.
 */
export const verifyNow = operation({
  name: 'audit-review.verify',
  action: auditActions.audit.verify,
  resourceType: 'audit_log',
  permission: verification,
  deniedMessage: auditTrailDenied,
  input: z.unknown(),
  run: async ({ viewer, audit }): Promise<Result<ChainWalk, never>> => {
    await audit();
    return ok({ run: () => walkAndRecord(viewer) });
  },
});

const walkOutcome = z.object({
  state: z.enum(['ok', 'broken', 'partial', 'checkpoint_invalid']),
  headSeq: z.number().optional(),
  brokenChain: z.number().optional(),
  brokenPosition: z.number().optional(),
  brokenSeq: z.number().optional(),
  reason: z.string().optional(),
});

/** The walk's outcome goes into the trail too, after it. */
const recordWalkOutcome = operation({
  name: 'audit-review.verify-result',
  action: auditActions.audit.verifyResult,
  resourceType: 'audit_log',
  permission: verification,
  deniedMessage: auditTrailDenied,
  input: walkOutcome,
  run: async ({ input, audit }): Promise<Result<undefined, never>> => {
    await audit({ details: input });
    return ok(undefined);
  },
});

async function walkAndRecord(viewer: Viewer): Promise<Result<ChainStatus, OperationError<never>>> {
  const status = await fullVerification({ writeCheckpoint: true });
  const { result } = status;
  const recorded = await recordWalkOutcome(viewer, {
    state: status.state,
    headSeq: result?.headSeq,
    ...(result?.break
      ? { brokenChain: result.break.chain, brokenPosition: result.break.position, brokenSeq: result.break.seq ?? undefined, reason: result.break.reason }
      : {}),
  });
  return recorded.ok ? ok(status) : recorded;
}
