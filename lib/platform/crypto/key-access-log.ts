import 'server-only';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { KeyAccessFailure } from '@/lib/platform/crypto/keys-unavailable';
import { log } from '@/lib/platform/log';

/**
 * Every use of the key store — each data-key unwrap and wrap, each load of the master keys and
 * their HMAC keys, each master-key change, and each failure — is counted here and written to the
 * audit trail in batches: one `key.access` entry per (who, operation, version, outcome) and
 * flush, so a busy ward adds a handful of entries a minute rather than one per chart open. The
 * chart view's own entry still says whether it unwrapped (`keyUnwrapped`).
 *
 * Who: the user of the guarded operation that touched the key (lib/pipeline runs each
 * operation inside `keyAccessAs`), or the process itself — the portal, or the CLI by name.
 * Failures are logged at once too (the trail may be what cannot be written when keys are gone),
 * and stay pending until a flush succeeds.
 */
export type KeyOperation = 'unwrap' | 'wrap' | 'open' | 'secrets_load' | 'add_version' | 'retire_version';

export interface KeyAccessor {
  userId: string | null;
  /** The process when there is no user: `vigil portal`, `vigil keys:rotate`, … */
  agent: string;
}

export interface KeyAccessGroup {
  who: KeyAccessor;
  operation: KeyOperation;
  version: number | null;
  outcome: 'ok' | 'failed';
  problem: KeyAccessFailure | null;
  count: number;
  first: string;
  last: string;
}

/** Flushes at least this often while anything is pending, and at once past this many groups. */
export const KEY_ACCESS_FLUSH_MS = 10_000;
const MAX_GROUPS = 500;

interface LogState {
  pending: Map<string, KeyAccessGroup>;
  process: KeyAccessor;
  /** Set by lib/platform/crypto/key-access-flush.ts when a process starts writing the log. */
  flush?: () => Promise<number>;
  timer?: ReturnType<typeof setTimeout>;
}
const globalForLog = globalThis as unknown as { vigilKeyAccess?: LogState };
const state: LogState = (globalForLog.vigilKeyAccess ??= { pending: new Map(), process: { userId: null, agent: 'vigil portal' } });
const current = new AsyncLocalStorage<KeyAccessor>();

/** Runs `work` with key accesses attributed to this user. */
export function keyAccessAs<T>(userId: string, work: () => T): T {
  return current.run({ userId, agent: state.process.agent }, work);
}

/** Who this process is, and how pending groups get written (the flush module sets both). */
export function configureKeyAccessLog(agent: string, flush: () => Promise<number>): void {
  state.process = { userId: null, agent };
  state.flush = flush;
}

/** Counts one key-store operation; a failure is also logged now, with its cause only. */
export function noteKeyAccess(operation: KeyOperation, options: { version?: number; count?: number; failed?: KeyAccessFailure } = {}): void {
  const who = current.getStore() ?? state.process;
  const outcome = options.failed ? 'failed' : 'ok';
  const version = options.version ?? null;
  const problem = options.failed ?? null;
  const id = JSON.stringify([who.userId, who.agent, operation, version, outcome, problem]);
  const at = new Date().toISOString();
  const group = state.pending.get(id);
  if (group) {
    group.count += options.count ?? 1;
    group.last = at;
  } else {
    state.pending.set(id, { who, operation, version, outcome, problem, count: options.count ?? 1, first: at, last: at });
  }
  if (problem) log.warn({ operation, version, problem, agent: who.agent }, 'Key store operation failed.');
  if (state.pending.size >= MAX_GROUPS) void state.flush?.().catch(() => {});
  else schedule();
}

function schedule(): void {
  if (state.timer || !state.flush) return;
  const flush = state.flush;
  state.timer = setTimeout(() => {
    state.timer = undefined;
    void flush().catch(() => {});
  }, KEY_ACCESS_FLUSH_MS);
  state.timer.unref?.();
}

/** Takes what is pending, for the flush to write. */
export function takePendingKeyAccess(): KeyAccessGroup[] {
  const batch = [...state.pending.values()];
  state.pending.clear();
  return batch;
}

/** Puts back groups a flush could not write, merged with whatever came since. */
export function returnPendingKeyAccess(batch: KeyAccessGroup[]): void {
  for (const g of batch) {
    const id = JSON.stringify([g.who.userId, g.who.agent, g.operation, g.version, g.outcome, g.problem]);
    const again = state.pending.get(id);
    if (again) again.count += g.count;
    else state.pending.set(id, g);
  }
}

/** Tests: what is waiting to be written. */
export function pendingKeyAccess(): ReadonlyArray<Readonly<KeyAccessGroup>> {
  return [...state.pending.values()];
}
