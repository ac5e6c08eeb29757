import 'server-only';
import type { Queryable } from '@/db/client';
import type { Viewer } from '@/lib/domain/access/viewer';
import { now as clockNow } from '@/lib/platform/clock';
import { readCheckpoint, writeCheckpoint, type Checkpoint } from '@/lib/platform/audit/checkpoint';
import { auditPermission, auditTrailUse, type AuditQueryResult } from '@/lib/features/audit-review/query';
import { describeVerification, verifyChain, type VerifyOptions, type VerifyResult } from '@/lib/platform/audit/verify';

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
  options: { writeCheckpoint?: boolean; onProgress?: VerifyOptions['onProgress']; db?: Queryable; checkpointFile?: string } = {},
): Promise<ChainStatus & { written: Checkpoint | null }> {
  const read = readCheckpoint(options.checkpointFile);
  const checkpoint = read.status === 'valid' ? read.checkpoint : null;
  const result = await verifyChain({ db: options.db, onProgress: options.onProgress, checkpoint: checkpoint ?? undefined });
  if (read.status === 'invalid') return { state: 'checkpoint_invalid', summary: read.reason, result, checkpoint: null, written: null };
  let written: Checkpoint | null = null;
  if (result.ok && options.writeCheckpoint) {
    written = { version: 1, seq: result.headSeq, hash: result.headHash, count: result.checked, createdAt: clockNow().toISOString() };
    writeCheckpoint(written, options.checkpointFile);
  }
  return { state: result.ok ? 'ok' : 'broken', summary: describeVerification(result), result, checkpoint, written };
}

export async function chainStatus(db?: Queryable): Promise<ChainStatus> {
  const read = readCheckpoint();
  if (read.status === 'invalid') return { state: 'checkpoint_invalid', summary: read.reason, result: null, checkpoint: null };
  const checkpoint = read.status === 'valid' ? read.checkpoint : null;
  const result = await verifyChain({ db, from: checkpoint ?? undefined, limit: STATUS_WALK_LIMIT });
  return {
    state: !result.ok ? 'broken' : result.partial ? 'partial' : 'ok',
    summary: describeVerification(result),
    result,
    checkpoint,
  };
}

/** "Verify now" on the audit page: a full walk, recorded, and a new checkpoint when it passes. */
export async function verifyNow(viewer: Viewer): Promise<AuditQueryResult<ChainStatus>> {
  if (!(await auditTrailUse(viewer, auditPermission.verify, 'audit.verify', {}))) {
    return { ok: false, error: 'denied', message: 'You do not have access to the audit trail.' };
  }
  const status = await fullVerification({ writeCheckpoint: true });
  const { result } = status;
  // The outcome goes into the trail too (the walk's entry above was written before it ran).
  await auditTrailUse(viewer, auditPermission.verify, 'audit.verify.result', {
    details: { state: status.state, headSeq: result?.headSeq, ...(result?.break ? { brokenSeq: result.break.seq, reason: result.break.reason } : {}) },
  });
  return { ok: true, value: status };
}
