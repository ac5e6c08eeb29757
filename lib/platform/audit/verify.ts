import 'server-only';
import { eq } from 'drizzle-orm';
import { sql } from 'drizzle-orm';
import { getDb, preparedRows, rowsOf, type Queryable } from '@/db/client';
import { auditLog } from '@/db/schema';
import { GENESIS_HASH, chainHash, headsRoot, type ChainHead, type ChainedFields } from '@/lib/platform/audit/chain';
import type { Checkpoint } from '@/lib/platform/audit/checkpoint';

type AuditRow = typeof auditLog.$inferSelect;

/**
 * Why a chain broke at an entry:
 * - edited: the entry's content no longer matches its hash, while the next entry still links to
 *   that hash (it was part of the chain and was changed afterwards);
 * - deleted: positions are missing, or an entry's predecessor is gone (the later entries were
 *   renumbered to hide the gap);
 * - inserted: an entry the chain does not link through (the next entry links past it);
 * - forged: an entry whose hash is not valid and that nothing links to (e.g. appended at the
 *   end; editing the newest entry looks the same);
 * - reordered: a genuine entry linked to an entry that is not its predecessor (moved, swapped,
 *   or copied from elsewhere in the trail);
 * - truncated: a chain is shorter than, or diverges from, the last signed checkpoint.
 */
export type BreakReason = 'edited' | 'deleted' | 'inserted' | 'forged' | 'reordered' | 'truncated';

export interface ChainBreak {
  chain: number;
  /** The first position in that chain that cannot be trusted. */
  position: number;
  /** The global seq of the entry found there (null when nothing is there: a cut tail). */
  seq: number | null;
  reason: BreakReason;
  detail: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Entries checked in this run. */
  checked: number;
  /** True when the walk started from a checkpoint's heads rather than from each genesis. */
  incremental: boolean;
  /** The highest global seq verified (or covered by the checkpoint walked from). */
  headSeq: number;
  /** The verified head of every chain, by chain number. */
  heads: ChainHead[];
  /** Merkle root over `heads`: what a checkpoint signs. */
  root: string;
  break: ChainBreak | null;
  /** True when the walk stopped at `limit` before reaching the heads. */
  partial: boolean;
  durationMs: number;
}

export interface VerifyOptions {
  db?: Queryable;
  pageSize?: number;
  /** Called after each page: entries checked so far and the number expected. */
  onProgress?: (checked: number, total: number) => void;
  /**
   * Start from a trusted checkpoint instead of the genesis: the entry at each of its heads must
   * still carry its hash, and only later entries are walked. Without it, every chain is walked
   * whole and, when `checkpoint` is given, compared against it.
   */
  from?: Checkpoint;
  /** A signed checkpoint to hold the chains to (detects a truncated tail of any chain). */
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

/** An entry as the walk reads it: what it was hashed over, its position and its links. */
interface WalkedEntry extends ChainedFields {
  chainSeq: number;
  prevHash: string;
  hash: string;
}

/**
 * The walk's statements, prepared (preparedRows) and read as arrays: drizzle's mapping of each
 * row into an object was most of the verifier's client CPU after the HMAC itself.
 */
const ENTRY_COLUMNS =
  'seq, chain_seq, log_id, user_id, action_type, resource_type, resource_id, patient_id, occurred_at, ip, user_agent, outcome, break_glass_grant_id, details, sealed_before, sealed_after, prev_hash, hash';
const PAGE = `SELECT ${ENTRY_COLUMNS} FROM audit_log WHERE chain = $1::integer AND chain_seq > $2::bigint AND chain_seq <= $3::bigint ORDER BY chain_seq LIMIT $4::integer`;
const AT = `SELECT ${ENTRY_COLUMNS} FROM audit_log WHERE chain = $1::integer AND chain_seq = $2::bigint`;

/**
 * One row of ENTRY_COLUMNS as the entry it holds. The drivers differ in what they parse: bigint
 * comes as a string (postgres.js) or a number, a timestamp as text (drizzle leaves postgres.js
 * its text) or a Date (PGlite). Both parse jsonb, and its value is taken as it comes: a string
 * there is a string (an edit turning the details into their own JSON text must not verify).
 */
function entryOf(r: unknown[]): WalkedEntry {
  const at = r[8] as Date | string;
  return {
    seq: Number(r[0]),
    chainSeq: Number(r[1]),
    logId: r[2] as string,
    userId: r[3] as string | null,
    actionType: r[4] as string,
    resourceType: r[5] as string,
    resourceId: r[6] as string | null,
    patientId: r[7] as string | null,
    occurredAt: typeof at === 'string' ? new Date(at) : at,
    ip: r[9] as string | null,
    userAgent: r[10] as string | null,
    outcome: r[11] as string,
    breakGlassGrantId: r[12] as string | null,
    details: r[13] as Record<string, unknown> | null,
    sealedBefore: r[14] as string | null,
    sealedAfter: r[15] as string | null,
    prevHash: r[16] as string,
    hash: r[17] as string,
  };
}

/** Whether the entry still matches its hash. Content no entry could have been written with (a time of infinity) does not. */
function hashMatches(entry: WalkedEntry, seq = entry.seq): boolean {
  try {
    return chainHash(entry.prevHash, seq === entry.seq ? entry : { ...entry, seq }) === entry.hash;
  } catch {
    return false;
  }
}
const entryName = (chain: number, position: number) => `entry ${position} of chain ${chain}`;

/**
 * Every chain and its last position, found without reading the table: a loose index scan over
 * (chain, chain_seq), one index probe per chain. An entry moved to a chain of its own is found too.
 */
async function chainEnds(db: Queryable): Promise<Map<number, number>> {
  const rows = rowsOf<{ chain: number; head: string | number }>(
    await db.execute(sql`
      WITH RECURSIVE chains(chain) AS (
        (SELECT chain FROM audit_log ORDER BY chain LIMIT 1)
        UNION ALL
        SELECT (SELECT a.chain FROM audit_log a WHERE a.chain > chains.chain ORDER BY a.chain LIMIT 1) FROM chains WHERE chains.chain IS NOT NULL
      )
      SELECT chain, (SELECT max(a.chain_seq) FROM audit_log a WHERE a.chain = chains.chain) AS head FROM chains WHERE chain IS NOT NULL`),
  );
  return new Map(rows.map((r) => [Number(r.chain), Number(r.head)]));
}

interface Link {
  position: number;
  hash: string;
  seq: number;
}

/**
 * Walks every chain in position order one page at a time (keyset pagination: memory stays flat
 * however long the trail is), recomputes every hash and names the first broken link. Each walk
 * ends at the head its chain had when the run started, so it finishes on a busy system.
 */
export async function verifyChain(options: VerifyOptions = {}): Promise<VerifyResult> {
  const started = performance.now();
  const db = options.db ?? (await getDb());
  const pageSize = options.pageSize ?? 5_000;
  const ends = await chainEnds(db);
  const startOf = new Map((options.from?.heads ?? []).map((h) => [h.chain, h]));
  const expected = options.checkpoint ?? options.from;
  const chains = [...new Set([...ends.keys(), ...(expected?.heads ?? []).map((h) => h.chain)])].sort((a, b) => a - b);
  const total = chains.reduce((sum, chain) => sum + Math.max(0, (ends.get(chain) ?? 0) - (startOf.get(chain)?.position ?? 0)), 0);
  const heads = new Map<number, Link>();
  let checked = 0;
  let headSeq = options.from?.seq ?? 0;
  const result = (broken: ChainBreak | null, partial = false): VerifyResult => {
    const verified = [...heads.entries()].map(([chain, link]) => ({ chain, position: link.position, hash: link.hash })).filter((h) => h.position > 0);
    return {
      ok: broken === null,
      checked,
      incremental: Boolean(options.from),
      headSeq,
      heads: verified,
      root: headsRoot(verified),
      break: broken,
      partial,
      durationMs: Math.round(performance.now() - started),
    };
  };

  for (const chain of chains) {
    const lastPosition = ends.get(chain) ?? 0;
    const from = startOf.get(chain);
    let prev: Link = { position: 0, hash: GENESIS_HASH, seq: 0 };
    if (from) {
      const broken = await checkAnchor(db, from, lastPosition, options.from!);
      if (broken) return result(broken);
      prev = { position: from.position, hash: from.hash, seq: 0 };
    }
    heads.set(chain, prev);
    const held = expected?.heads.find((h) => h.chain === chain);
    const page = async (after: number, room: number) => (await preparedRows(db, PAGE, [chain, after, lastPosition, Math.min(pageSize, room)])).map(entryOf);
    const room = () => (options.limit ?? Infinity) - checked;
    // The next page is fetched while this one is hashed: the database and the HMACs overlap.
    let next = prev.position < lastPosition && room() > 0 ? page(prev.position, room()) : null;
    while (next) {
      const rows = await next;
      next = null;
      if (rows.length === 0) {
        const missing = prev.position + 1;
        return result({ chain, position: missing, seq: null, reason: 'deleted', detail: `Entries ${missing} to ${lastPosition} of chain ${chain} disappeared during the walk.` });
      }
      const last = rows.at(-1)!.chainSeq;
      const left = room() - rows.length;
      if (last < lastPosition && left > 0) {
        next = page(last, left);
        next.catch(() => undefined); // awaited below, unless a break ends the walk first
      }
      for (const row of rows) {
        // The usual case without a promise per entry; checkLink says what a break is.
        const intact = row.chainSeq === prev.position + 1 && row.prevHash === prev.hash && hashMatches(row);
        const broken = intact ? null : await checkLink(db, chain, prev, row);
        if (broken) return result(broken);
        if (held && row.chainSeq === held.position && row.hash !== held.hash) return result(diverged(expected!, held, row.seq));
        prev = { position: row.chainSeq, hash: row.hash, seq: row.seq };
        if (row.seq > headSeq) headSeq = row.seq;
        checked += 1;
      }
      heads.set(chain, prev);
      options.onProgress?.(checked, total);
    }
    if (prev.position < lastPosition) return result(null, true);
    if (held && prev.position < held.position) return result(truncated(expected!, held, prev.position));
  }
  return result(null);
}

async function rowAt(db: Queryable, chain: number, position: number): Promise<WalkedEntry | undefined> {
  const [row] = await preparedRows(db, AT, [chain, position]);
  return row && entryOf(row);
}

async function checkAnchor(db: Queryable, from: ChainHead, lastPosition: number, cp: Checkpoint): Promise<ChainBreak | null> {
  const anchor = await rowAt(db, from.chain, from.position);
  if (!anchor) return truncated(cp, from, Math.min(lastPosition, from.position - 1));
  if (anchor.hash !== from.hash) return diverged(cp, from, anchor.seq);
  if (!hashMatches(anchor)) {
    return { chain: from.chain, position: from.position, seq: anchor.seq, reason: 'edited', detail: `The ${entryName(from.chain, from.position)} no longer matches its hash.` };
  }
  return null;
}

const truncated = (cp: Checkpoint, head: ChainHead, reached: number): ChainBreak => ({
  chain: head.chain,
  position: reached + 1,
  seq: null,
  reason: 'truncated',
  detail: `The checkpoint of ${cp.createdAt} recorded ${head.position} entries in chain ${head.chain}; it ends at ${reached}. Entries from ${reached + 1} were removed.`,
});

const diverged = (cp: Checkpoint, head: ChainHead, seq: number): ChainBreak => ({
  chain: head.chain,
  position: head.position,
  seq,
  reason: 'truncated',
  detail: `The ${entryName(head.chain, head.position)} does not carry the hash the checkpoint of ${cp.createdAt} recorded: the chain was cut at or before it and rewritten since.`,
});

/**
 * Checks one entry against its verified predecessor and, when it fails, looks around it to say
 * what most likely happened. The look-around runs only once, at the first break.
 */
async function checkLink(db: Queryable, chain: number, prev: Link, row: WalkedEntry): Promise<ChainBreak | null> {
  const expected = prev.position + 1;
  const at = { chain, position: row.chainSeq, seq: row.seq };
  if (row.chainSeq !== expected) {
    const range = row.chainSeq - 1 === expected ? `Entry ${expected} of chain ${chain} is` : `Entries ${expected} to ${row.chainSeq - 1} of chain ${chain} are`;
    return { ...at, position: expected, reason: 'deleted', detail: `${range} missing.` };
  }
  const linked = row.prevHash === prev.hash;
  const valid = hashMatches(row);
  if (linked && valid) return null;
  const name = entryName(chain, row.chainSeq);

  if (linked) {
    const next = await rowAt(db, chain, row.chainSeq + 1);
    if (next?.prevHash === prev.hash) {
      return { ...at, reason: 'inserted', detail: `The ${name} (seq ${row.seq}) is not part of the chain: the next entry links directly to its predecessor.` };
    }
    if (next) return { ...at, reason: 'edited', detail: `The ${name} (seq ${row.seq}) was changed after it was written: its content no longer matches its hash.` };
    return { ...at, reason: 'forged', detail: `The newest ${name} (seq ${row.seq}) does not match its hash: it was forged or edited.` };
  }

  const [origin] = await db.select({ chain: auditLog.chain, position: auditLog.chainSeq }).from(auditLog).where(eq(auditLog.hash, row.prevHash)).limit(1);
  if (origin) {
    return { ...at, reason: 'reordered', detail: `The ${name} (seq ${row.seq}) belongs after ${entryName(origin.chain, origin.position)}, not after entry ${prev.position}: entries were moved.` };
  }
  const originalSeq = valid ? row.seq : findOriginalSeq(row);
  if (originalSeq !== null) {
    const renumbered = originalSeq === row.seq ? '' : ` It was written as seq ${originalSeq}.`;
    return { ...at, reason: 'deleted', detail: `The ${name} is genuine but its predecessor is gone: entries were deleted and the rest renumbered.${renumbered}` };
  }
  return { ...at, reason: 'forged', detail: `The ${name} (seq ${row.seq}) neither matches its hash nor links to entry ${prev.position}.` };
}

/** The global seq a renumbered entry was signed with, if it is near where it now sits. */
function findOriginalSeq(row: WalkedEntry, radius = 64): number | null {
  for (let d = 1; d <= radius; d++) {
    if (hashMatches(row, row.seq + d)) return row.seq + d;
    if (row.seq - d > 0 && hashMatches(row, row.seq - d)) return row.seq - d;
  }
  return null;
}

/** One line for people: the CLI and the admin page say the same thing. */
export function describeVerification(result: VerifyResult): string {
  if (result.break) {
    const { chain, position, seq, reason, detail } = result.break;
    return `BROKEN at ${entryName(chain, position)}${seq === null ? '' : ` (seq ${seq})`} (${reason}): ${detail}`;
  }
  const scope = result.incremental ? ' (walked from the checkpoint)' : '';
  const chains = `${result.heads.length} chain${result.heads.length === 1 ? '' : 's'}`;
  if (result.partial) return `OK so far: ${result.checked} entries checked${scope}; the rest is not yet verified.`;
  return `OK: ${result.checked} entries in ${chains} up to seq ${result.headSeq}, root ${result.root}${scope}`;
}
