import 'server-only';
import { timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { canonicalJson, checkpointSignature } from '@/lib/platform/audit/chain';
import { env } from '@/lib/platform/env';

/**
 * A signed note of the chain's head, kept outside the database. Whoever controls the database
 * can delete the newest entries and leave a chain that verifies; they cannot also rewrite this
 * file's signature (its key is derived from the system key, which the database never sees), so
 * the next verification against it notices the missing tail.
 */
export interface Checkpoint {
  version: 1;
  seq: number;
  hash: string;
  count: number;
  createdAt: string;
}

const signedCheckpoint = z.object({
  version: z.literal(1),
  seq: z.number().int().min(0),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  count: z.number().int().min(0),
  createdAt: z.string().datetime(),
  signature: z.string().regex(/^[0-9a-f]{64}$/),
});

export type CheckpointRead =
  | { status: 'none' }
  | { status: 'invalid'; reason: string }
  | { status: 'valid'; checkpoint: Checkpoint };

export function checkpointPath(): string {
  const { VIGIL_AUDIT_CHECKPOINT, VIGIL_DATA_DIR } = env();
  return path.resolve(VIGIL_AUDIT_CHECKPOINT ?? path.join(VIGIL_DATA_DIR, 'audit-checkpoint.json'));
}

function sign(checkpoint: Checkpoint): string {
  const { version, seq, hash, count, createdAt } = checkpoint;
  return checkpointSignature(canonicalJson({ version, seq, hash, count, createdAt }));
}

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
  let parsed: z.infer<typeof signedCheckpoint>;
  try {
    parsed = signedCheckpoint.parse(JSON.parse(text));
  } catch {
    return { status: 'invalid', reason: `The checkpoint file ${file} is not a valid checkpoint.` };
  }
  const { signature, ...checkpoint } = parsed;
  const expected = Buffer.from(sign(checkpoint), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) {
    return { status: 'invalid', reason: `The checkpoint file ${file} has a bad signature: it was altered or signed with another key.` };
  }
  return { status: 'valid', checkpoint };
}

/** What the trail itself says about the newest automatic checkpoint (its `audit.checkpoint` entry). */
export interface RecordedCheckpoint {
  seq: number;
  createdAt: string;
}

/*
 * The newest checkpoint this process has seen or written. A file replaced by an older signed
 * checkpoint (a restored backup) is caught against it even when the trail's own record of the
 * newer one was cut away with the tail.
 */
const globalForCheckpoints = globalThis as unknown as { vigilNewestCheckpoint?: RecordedCheckpoint };

export function rememberCheckpoint(checkpoint: RecordedCheckpoint): void {
  const known = globalForCheckpoints.vigilNewestCheckpoint;
  if (!known || checkpoint.seq > known.seq) globalForCheckpoints.vigilNewestCheckpoint = { seq: checkpoint.seq, createdAt: checkpoint.createdAt };
}

/**
 * Checkpoints only move forward: once one has existed, a missing file is a failure, and a valid
 * but older one (than the trail records or this process saw) is an alarm, not a fresh start.
 * Returns the sentence that says so, naming the last checkpoint known, or null when all is well.
 */
export function checkpointRegression(read: CheckpointRead, recorded: RecordedCheckpoint | null, file = checkpointPath()): string | null {
  const seen = globalForCheckpoints.vigilNewestCheckpoint;
  const newest = [recorded, seen].filter((c): c is RecordedCheckpoint => Boolean(c)).sort((a, b) => b.seq - a.seq)[0];
  if (read.status === 'valid') rememberCheckpoint(read.checkpoint);
  if (!newest || read.status === 'invalid') return null;
  if (read.status === 'none') {
    return `The checkpoint file ${file} is missing, but a checkpoint of the trail at seq ${newest.seq} was written on ${newest.createdAt}: it was deleted, or the files were restored from before it.`;
  }
  if (read.checkpoint.seq < newest.seq) {
    return `The checkpoint file ${file} holds seq ${read.checkpoint.seq} of ${read.checkpoint.createdAt}, older than the checkpoint at seq ${newest.seq} of ${newest.createdAt}: an older checkpoint was put back.`;
  }
  return null;
}
