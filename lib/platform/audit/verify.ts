import 'server-only';
import { asc, eq, gt, max } from 'drizzle-orm';
import { getDb, type Queryable } from '@/db/client';
import { auditLog } from '@/db/schema';
import { GENESIS_HASH, chainHash, type ChainedFields } from '@/lib/platform/audit/chain';
import type { Checkpoint } from '@/lib/platform/audit/checkpoint';

type AuditRow = typeof auditLog.$inferSelect;

/**
 * Why the chain broke at an entry:
 * - edited: the entry's content no longer matches its hash, while the next entry still links to
 *   that hash (it was part of the chain and was changed afterwards);
 * - deleted: sequence numbers are missing (or the later entries were renumbered to hide a gap);
 * - inserted: an entry the chain does not link through (the next entry links past it), or a
 *   correctly signed entry from another branch of the chain;
 * - forged: an entry whose hash is not valid and that nothing links to (e.g. appended at the
 *   end; editing the newest entry looks the same);
 * - reordered: an entry of this chain, linked to an entry that is not its predecessor;
 * - truncated: the chain is shorter than, or diverges from, the last signed checkpoint.
 */
export type BreakReason = 'edited' | 'deleted' | 'inserted' | 'forged' | 'reordered' | 'truncated';

export interface ChainBreak {
  /** The first sequence number that cannot be trusted. */
  seq: number;
  reason: BreakReason;
  detail: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Entries checked in this run. */
  checked: number;
  /** The first entry checked (1 for a full walk; a checkpoint's seq for an incremental one). */
  fromSeq: number;
  headSeq: number;
  headHash: string;
  break: ChainBreak | null;
  /** True when the walk stopped at `limit` before reaching the head. */
  partial: boolean;
  durationMs: number;
}

export interface VerifyOptions {
  db?: Queryable;
  pageSize?: number;
  /** Called after each page: entries checked so far and the number expected. */
  onProgress?: (checked: number, total: number) => void;
  /**
   * Start from a trusted checkpoint instead of the genesis: the entry at its seq must still
   * carry its hash, and only later entries are walked. Without it, the whole chain is walked
   * and, when `checkpoint` is given, compared against it.
   */
  from?: Checkpoint;
  /** A signed checkpoint to hold the chain to (detects a truncated tail). */
  checkpoint?: Checkpoint;
  /** Stop after this many entries (the result is then `partial`). */
  limit?: number;
}

/** The fields an entry was hashed over, as the database returns them. */
export function chainedFieldsOf(row: AuditRow): ChainedFields {
  return {
    seq: row.seq,
    logId: row.logId,
    userId: row.userId,
    actionType: row.actionType,
    resourceType: row.resourceType,
    resourceId: row.resourceId,
    patientId: row.patientId,
    occurredAt: row.occurredAt,
    ip: row.ip,
    userAgent: row.userAgent,
    outcome: row.outcome,
    breakGlassGrantId: row.breakGlassGrantId,
    details: row.details ?? null,
    sealedBefore: row.sealedBefore,
    sealedAfter: row.sealedAfter,
  };
}

const hashMatches = (row: AuditRow, seq = row.seq) => chainHash(row.prevHash, { ...chainedFieldsOf(row), seq }) === row.hash;

/**
 * Walks the chain in sequence order one page at a time (keyset pagination: memory stays flat
 * however long the chain is), recomputes every hash and names the first broken link. The walk
 * ends at the head seen when it started, so it finishes on a busy system.
 */
export async function verifyChain(options: VerifyOptions = {}): Promise<VerifyResult> {
  const started = performance.now();
  const db = options.db ?? (await getDb());
  const pageSize = options.pageSize ?? 1_000;
  const [{ head } = { head: null }] = await db.select({ head: max(auditLog.seq) }).from(auditLog);
  const lastSeq = Number(head ?? 0);
  const startSeq = options.from?.seq ?? 0;
  const total = Math.max(0, lastSeq - startSeq);
  let prev = { seq: 0, hash: GENESIS_HASH };
  let checked = 0;
  const result = (broken: ChainBreak | null, partial = false): VerifyResult => ({
    ok: broken === null,
    checked,
    fromSeq: startSeq + 1,
    headSeq: prev.seq,
    headHash: prev.hash,
    break: broken,
    partial,
    durationMs: Math.round(performance.now() - started),
  });

  if (options.from) {
    const anchor = await rowAt(db, options.from.seq);
    const broken = checkAnchor(options.from, anchor, lastSeq);
    if (broken) return result(broken);
    prev = { seq: options.from.seq, hash: options.from.hash };
  }

  while (prev.seq < lastSeq) {
    if (options.limit !== undefined && checked >= options.limit) return result(null, true);
    const rows = await db
      .select()
      .from(auditLog)
      .where(gt(auditLog.seq, prev.seq))
      .orderBy(asc(auditLog.seq))
      .limit(Math.min(pageSize, lastSeq - prev.seq, (options.limit ?? Infinity) - checked));
    if (rows.length === 0) {
      const missing = { seq: prev.seq + 1, reason: 'deleted' as const, detail: `Entries ${prev.seq + 1} to ${lastSeq} disappeared during the walk.` };
      return result(missing);
    }
    for (const row of rows) {
      const broken = await checkLink(db, prev, row);
      if (broken) return result(broken);
      if (options.checkpoint && row.seq === options.checkpoint.seq && row.hash !== options.checkpoint.hash) {
        return result(diverged(options.checkpoint));
      }
      prev = { seq: row.seq, hash: row.hash };
      checked += 1;
    }
    options.onProgress?.(checked, total);
  }
  const cp = options.checkpoint ?? options.from;
  if (cp && prev.seq < cp.seq) return result(truncated(cp, prev.seq));
  return result(null);
}

async function rowAt(db: Queryable, seq: number): Promise<AuditRow | undefined> {
  const [row] = await db.select().from(auditLog).where(eq(auditLog.seq, seq)).limit(1);
  return row;
}

function checkAnchor(from: Checkpoint, anchor: AuditRow | undefined, lastSeq: number): ChainBreak | null {
  if (from.seq === 0) return from.hash === GENESIS_HASH ? null : diverged(from);
  if (!anchor) return truncated(from, Math.min(lastSeq, from.seq - 1));
  if (anchor.hash !== from.hash) return diverged(from);
  if (!hashMatches(anchor)) {
    return { seq: anchor.seq, reason: 'edited', detail: `Entry ${anchor.seq} no longer matches its hash.` };
  }
  return null;
}

const truncated = (cp: Checkpoint, reached: number): ChainBreak => ({
  seq: reached + 1,
  reason: 'truncated',
  detail: `The checkpoint of ${cp.createdAt} recorded ${cp.seq} entries; the chain ends at ${reached}. Entries from ${reached + 1} were removed.`,
});

const diverged = (cp: Checkpoint): ChainBreak => ({
  seq: cp.seq,
  reason: 'truncated',
  detail: `Entry ${cp.seq} does not carry the hash the checkpoint of ${cp.createdAt} recorded: the chain was cut at or before it and rewritten since.`,
});

/**
 * Checks one entry against its verified predecessor and, when it fails, looks around it to say
 * what most likely happened. The look-around runs only once, at the first break.
 */
async function checkLink(db: Queryable, prev: { seq: number; hash: string }, row: AuditRow): Promise<ChainBreak | null> {
  const expected = prev.seq + 1;
  if (row.seq !== expected) {
    const range = row.seq - 1 === expected ? `Entry ${expected} is` : `Entries ${expected} to ${row.seq - 1} are`;
    return { seq: expected, reason: 'deleted', detail: `${range} missing.` };
  }
  const linked = row.prevHash === prev.hash;
  const valid = hashMatches(row);
  if (linked && valid) return null;
  const seq = row.seq;

  if (linked) {
    const next = await rowAt(db, seq + 1);
    if (next?.prevHash === prev.hash) {
      return { seq, reason: 'inserted', detail: `Entry ${seq} is not part of the chain: entry ${seq + 1} links directly to entry ${prev.seq}.` };
    }
    if (next) return { seq, reason: 'edited', detail: `Entry ${seq} was changed after it was written: its content no longer matches its hash.` };
    return { seq, reason: 'forged', detail: `The newest entry, ${seq}, does not match its hash: it was forged or edited.` };
  }

  const [origin] = await db.select({ seq: auditLog.seq }).from(auditLog).where(eq(auditLog.hash, row.prevHash)).limit(1);
  if (origin) {
    return { seq, reason: 'reordered', detail: `Entry ${seq} belongs after entry ${origin.seq}, not after entry ${prev.seq}: entries were moved.` };
  }
  const originalSeq = valid ? seq : findOriginalSeq(row);
  if (originalSeq !== null && originalSeq > seq) {
    return { seq, reason: 'deleted', detail: `Entry ${seq} was written as entry ${originalSeq}: entries were deleted and the rest renumbered.` };
  }
  if (valid) {
    return { seq, reason: 'inserted', detail: `Entry ${seq} is correctly signed but does not link to entry ${prev.seq}: it comes from another branch of the chain.` };
  }
  return { seq, reason: 'forged', detail: `Entry ${seq} neither matches its hash nor links to entry ${prev.seq}.` };
}

/** The sequence number a moved entry was signed with, if it is near where it now sits. */
function findOriginalSeq(row: AuditRow, radius = 64): number | null {
  for (let d = 1; d <= radius; d++) {
    if (hashMatches(row, row.seq + d)) return row.seq + d;
    if (row.seq - d > 0 && hashMatches(row, row.seq - d)) return row.seq - d;
  }
  return null;
}

/** One line for people: the CLI and the admin page say the same thing. */
export function describeVerification(result: VerifyResult): string {
  if (result.break) return `BROKEN at seq ${result.break.seq} (${result.break.reason}): ${result.break.detail}`;
  const scope = result.fromSeq > 1 ? ` (entries ${result.fromSeq}–${result.headSeq} walked from the checkpoint)` : '';
  if (result.partial) return `OK so far: ${result.checked} entries checked up to seq ${result.headSeq}${scope}; the rest is not yet verified.`;
  return `OK: ${result.headSeq} entries, head ${result.headHash}${scope}`;
}
