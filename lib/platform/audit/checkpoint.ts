import 'server-only';
import { timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Tx } from '@/db/client';
import { canonicalJson, checkpointSignature, headsRoot, type ChainHead } from '@/lib/platform/audit/chain';
import { env } from '@/lib/platform/env';

/**
 * A signed note of every chain's head, kept outside the database. Whoever controls the database
 * can delete the newest entries of a chain and leave a trail that verifies; they cannot also
 * rewrite this file's signature (its key is derived from the system key, which the database
 * never sees), so the next verification against it notices the missing tail. The signature
 * covers the Merkle root over the heads (headsRoot), as a Certificate Transparency log signs its
 * tree head; `seq` (the highest global seq covered) orders checkpoints: it only grows.
 */
export interface Checkpoint {
  version: 2;
  seq: number;
  count: number;
  heads: ChainHead[];
  root: string;
  createdAt: string;
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const signedCheckpoint = z.object({
  version: z.literal(2),
  seq: z.number().int().min(0),
  count: z.number().int().min(0),
  heads: z.array(z.object({ chain: z.number().int().min(0), position: z.number().int().min(1), hash: hex64 })),
  root: hex64,
  createdAt: z.string().datetime(),
  signature: hex64,
});
/** A checkpoint written before the trail had several chains: its one chain is chain 0. */
const singleChainCheckpoint = z.object({
  version: z.literal(1),
  seq: z.number().int().min(0),
  hash: hex64,
  count: z.number().int().min(0),
  createdAt: z.string().datetime(),
  signature: hex64,
});

/** A checkpoint of the heads a walk verified. */
export function checkpointOf(walk: { headSeq: number; heads: ChainHead[] }, count: number, createdAt: string): Checkpoint {
  const heads = [...walk.heads].sort((a, b) => a.chain - b.chain);
  return { version: 2, seq: walk.headSeq, count, heads, root: headsRoot(heads), createdAt };
}

export type CheckpointRead =
  | { status: 'none' }
  | { status: 'invalid'; reason: string }
  | { status: 'valid'; checkpoint: Checkpoint };

export function checkpointPath(): string {
  const { VIGIL_AUDIT_CHECKPOINT, VIGIL_DATA_DIR } = env();
  return path.resolve(VIGIL_AUDIT_CHECKPOINT ?? path.join(VIGIL_DATA_DIR, 'audit-checkpoint.json'));
}

function sign(checkpoint: Checkpoint): string {
  const { version, seq, count, root, createdAt } = checkpoint;
  return checkpointSignature(canonicalJson({ version, seq, count, root, createdAt }));
}

const signedBy = (signature: string, expected: string) => timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(signature, 'hex'));

/** The checkpoint as it is stored and sent off the host: its fields and their signature. */
export function withSignature(checkpoint: Checkpoint): Checkpoint & { signature: string } {
  return { ...checkpoint, signature: sign(checkpoint) };
}

export function writeCheckpoint(checkpoint: Checkpoint, file = checkpointPath()): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  // Whole file then rename: a crash never leaves half a checkpoint.
  writeFileSync(temp, `${JSON.stringify(withSignature(checkpoint), null, 2)}\n`, { mode: 0o600 });
  renameSync(temp, file);
}

export function readCheckpoint(file = checkpointPath()): CheckpointRead {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'none' };
    throw error;
  }
  const bad = `The checkpoint file ${file} has a bad signature: it was altered or signed with another key.`;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  const current = signedCheckpoint.safeParse(json);
  if (current.success) {
    const { signature, ...checkpoint } = current.data;
    if (!signedBy(signature, sign(checkpoint)) || headsRoot(checkpoint.heads) !== checkpoint.root) return { status: 'invalid', reason: bad };
    return { status: 'valid', checkpoint };
  }
  const legacy = singleChainCheckpoint.safeParse(json);
  if (legacy.success) {
    const { signature, version, seq, hash, count, createdAt } = legacy.data;
    if (!signedBy(signature, checkpointSignature(canonicalJson({ version, seq, hash, count, createdAt })))) return { status: 'invalid', reason: bad };
    return { status: 'valid', checkpoint: checkpointOf({ headSeq: seq, heads: seq > 0 ? [{ chain: 0, position: seq, hash }] : [] }, count, createdAt) };
  }
  return { status: 'invalid', reason: `The checkpoint file ${file} is not a valid checkpoint.` };
}

/**
 * Checkpoints of every instance serialise on one PostgreSQL advisory lock (key 2: -1, beside the
 * chains' 0, 1, …), held by a transaction around reading the file, checking and writing it: two
 * instances that share the file never interleave, and the file never goes back in time.
 */
export async function lockCheckpoints(tx: Tx): Promise<void> {
  await tx.execute(sql`SELECT pg_advisory_xact_lock(1986488169, -1)`);
}

/**
 * Writes `checkpoint` unless the file already holds a newer one (another instance's, written
 * while this walk ran). Call under lockCheckpoints. Returns the checkpoint the file now holds.
 */
export function advanceCheckpoint(checkpoint: Checkpoint, file = checkpointPath()): Checkpoint {
  const read = readCheckpoint(file);
  if (read.status === 'valid' && read.checkpoint.seq > checkpoint.seq) return read.checkpoint;
  writeCheckpoint(checkpoint, file);
  return checkpoint;
}

/** What the trail itself says about the newest automatic checkpoint (its `audit.checkpoint` entry). */
export interface RecordedCheckpoint {
  seq: number;
  createdAt: string;
}

/**
 * What one portal instance remembers of the trail, outside the database: the newest checkpoint
 * it saw or wrote, and the chain heads it saw at its last check. Each instance keeps its own
 * (the process-wide one unless a test stands in for a second instance), because what a
 * database owner can rewrite cannot be the witness. A file replaced by an older signed
 * checkpoint (a restored backup) is caught against it even when the trail's own record of the
 * newer one was cut away with the tail.
 */
export interface TrailMemory {
  newestCheckpoint?: RecordedCheckpoint;
  headsSeen?: { heads: ChainHead[]; at: string };
}

const globalForMemory = globalThis as unknown as { vigilTrailMemory?: TrailMemory };
export const processMemory = (): TrailMemory => (globalForMemory.vigilTrailMemory ??= {});

export function rememberCheckpoint(checkpoint: RecordedCheckpoint, memory = processMemory()): void {
  const known = memory.newestCheckpoint;
  if (!known || checkpoint.seq > known.seq) memory.newestCheckpoint = { seq: checkpoint.seq, createdAt: checkpoint.createdAt };
}

/**
 * Checkpoints only move forward: once one has existed, a missing file is a failure, and a valid
 * but older one (than the trail records or this instance saw) is an alarm, not a fresh start.
 * Returns the sentence that says so, naming the last checkpoint known, or null when all is well.
 */
export function checkpointRegression(read: CheckpointRead, recorded: RecordedCheckpoint | null, file = checkpointPath(), memory = processMemory()): string | null {
  const seen = memory.newestCheckpoint;
  const newest = [recorded, seen].filter((c): c is RecordedCheckpoint => Boolean(c)).sort((a, b) => b.seq - a.seq)[0];
  if (read.status === 'valid') rememberCheckpoint(read.checkpoint, memory);
  if (!newest || read.status === 'invalid') return null;
  if (read.status === 'none') {
    return `The checkpoint file ${file} is missing, but a checkpoint of the trail at seq ${newest.seq} was written on ${newest.createdAt}: it was deleted, or the files were restored from before it.`;
  }
  if (read.checkpoint.seq < newest.seq) {
    return `The checkpoint file ${file} holds seq ${read.checkpoint.seq} of ${read.checkpoint.createdAt}, older than the checkpoint at seq ${newest.seq} of ${newest.createdAt}: an older checkpoint was put back.`;
  }
  return null;
}
