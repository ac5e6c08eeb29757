import 'server-only';
import { hash, verify } from '@node-rs/argon2';
import pLimit from 'p-limit';
import { hashPolicy } from '@/lib/features/credentials/config';

/** OWASP's argon2id baseline (m=19 MiB, t=2, p=1); @node-rs/argon2 defaults to argon2id. */
const ARGON2_OPTIONS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/*
 * Every argon2 call in the process runs through one limiter (policy in ./config.ts, hashPolicy).
 * Kept on globalThis so that Next's separate bundles of this module share the one cap.
 */
interface HashQueue {
  limit: ReturnType<typeof pLimit>;
  running: number;
  peakRunning: number;
  computed: number;
  refused: number;
  /** A moving average of real checks, which sign-ins at absent or locked accounts wait out. */
  averageVerifyMs: number;
}
const globalForHashes = globalThis as unknown as { vigilHashQueue?: HashQueue };
const queue = (globalForHashes.vigilHashQueue ??= {
  limit: pLimit(hashPolicy.maxConcurrent),
  running: 0,
  peakRunning: 0,
  computed: 0,
  refused: 0,
  averageVerifyMs: hashPolicy.emulatedHashMs,
});

/** A sign-in refused because the hash queue is full; nothing was checked. */
export const HASH_QUEUE_FULL = 'busy' as const;

function inSlot<T>(work: () => Promise<T>): Promise<T> {
  return queue.limit(async () => {
    queue.running += 1;
    queue.computed += 1;
    queue.peakRunning = Math.max(queue.peakRunning, queue.running);
    try {
      return await work();
    } finally {
      queue.running -= 1;
    }
  });
}

/** Whether a sign-in would be refused for want of a slot: checked before anything else costs. */
export function hashQueueFull(): boolean {
  return queue.limit.pendingCount >= hashPolicy.maxWaiting;
}

/** How the hash queue is doing: running now, the most ever at once, and totals (monitoring, benchmarks, tests). */
export function hashQueueStats(): { running: number; waiting: number; peakRunning: number; computed: number; refused: number } {
  return { running: queue.running, waiting: queue.limit.pendingCount, peakRunning: queue.peakRunning, computed: queue.computed, refused: queue.refused };
}

/** Starts the peak over, so a benchmark or test measures only its own stretch. */
export function resetHashQueuePeak(): void {
  queue.peakRunning = queue.running;
}

export function hashPassword(password: string): Promise<string> {
  return inSlot(() => hash(password, ARGON2_OPTIONS));
}

async function safeVerify(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

/** A check for someone already signed in (step-up): it waits for a slot however long the queue. */
export function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  return inSlot(() => safeVerify(passwordHash, password));
}

/**
 * A sign-in's check: refused at once, unchecked, when the queue is already full. Its time,
 * waiting included, feeds the average that waitLikeAHash imitates.
 */
export async function verifySignInPassword(passwordHash: string, password: string): Promise<boolean | typeof HASH_QUEUE_FULL> {
  if (hashQueueFull()) {
    queue.refused += 1;
    return HASH_QUEUE_FULL;
  }
  const started = performance.now();
  try {
    return await inSlot(() => safeVerify(passwordHash, password));
  } finally {
    queue.averageVerifyMs = queue.averageVerifyMs * 0.9 + (performance.now() - started) * 0.1;
  }
}

/**
 * For a sign-in at an account that does not exist, is locked or disabled: no hash (a flood of
 * them costs no memory and no core), but the same wait as a real check, so an unknown email
 * cannot be told apart by timing.
 */
export async function waitLikeAHash(): Promise<false> {
  const ms = queue.averageVerifyMs * (0.9 + Math.random() * 0.2);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return false;
}

/** The password rule for new and reset passwords (NIST 800-63B: length over composition). */
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;
