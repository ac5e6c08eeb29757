import 'server-only';
import { getDb, type Db } from '@/db/client';
import { now as clockNow } from '@/lib/platform/clock';
import { log } from '@/lib/platform/log';
import { recordAudit } from '@/lib/platform/audit/append';
import { normaliseIp } from '@/lib/platform/audit/ip';
import type { AuditAction } from '@/lib/domain/audit/actions';

/**
 * Refusals of anonymous requests (sign-in attempts, device requests) are tallied here and
 * written as ONE audit entry per source, action and interval, carrying the count and the
 * reasons. A flood from outside then neither queues behind the chain's lock with every chart
 * view nor grows the trail by an entry per request: it costs one append per source per interval,
 * taken in one transaction when the interval closes.
 *
 * The price, stated in SECURITY.md: refusals wait up to one interval before they reach the
 * trail, and a process that dies loses the tally of the interval it was in. Sign-in failures are
 * also rows of login_attempts (written at once, outside the chain lock), and lockouts and
 * second-factor refusals are still audited one by one, so no account-level fact waits here.
 */
export const REFUSAL_INTERVAL_MS = 60_000;
/**
 * Distinct sources per interval; beyond this a flood's new addresses share one line, so memory
 * and the flush stay bounded (every address is still a row of login_attempts).
 */
export const MAX_TALLIED_SOURCES = 500;
/** Entries per flush transaction, so the flush holds the chain's lock only briefly at a time. */
const FLUSH_BATCH = 20;
const MANY_SOURCES = 'many';

export interface Refusal {
  action: AuditAction;
  resourceType: string;
  /** The client address, or an API client's id; null when the request did not say. */
  source: string | null;
  /** An address that can be audited as `inet` (null for an API client's id or an unknown address). */
  ip?: string | null;
  userAgent?: string | null;
  /** A PHI-free reason code. */
  reason: string;
  /** An account the attempt named, counted (never listed) in the entry. */
  accountId?: string | null;
  at?: Date;
}

interface Tally {
  action: AuditAction;
  resourceType: string;
  source: string;
  ip: string | null;
  userAgent: string | null;
  intervalStart: number;
  first: Date;
  last: Date;
  count: number;
  reasons: Record<string, number>;
  accounts: Set<string>;
  /** Only on the overflow line: how many distinct sources were folded into it. */
  sources?: Set<string>;
}

const globalForTallies = globalThis as unknown as { vigilRefusalTallies?: Map<string, Tally>; vigilRefusalTimer?: NodeJS.Timeout };
const tallies = (globalForTallies.vigilRefusalTallies ??= new Map<string, Tally>());

/** Counts one refusal; its entry is written when its interval closes (flushRefusals). Never throws, never waits. */
export function tallyRefusal(refusal: Refusal): void {
  const at = refusal.at ?? clockNow();
  const intervalStart = Math.floor(at.getTime() / REFUSAL_INTERVAL_MS) * REFUSAL_INTERVAL_MS;
  const source = normaliseIp(refusal.source) ?? refusal.source ?? 'unknown';
  let key = `${intervalStart}\u0000${refusal.action}\u0000${source}`;
  let tally = tallies.get(key);
  if (!tally && tallies.size >= MAX_TALLIED_SOURCES) {
    key = `${intervalStart}\u0000${refusal.action}\u0000${MANY_SOURCES}`;
    tally = tallies.get(key);
  }
  if (!tally) {
    const overflow = key.endsWith(`\u0000${MANY_SOURCES}`);
    tally = {
      action: refusal.action,
      resourceType: refusal.resourceType,
      source: overflow ? MANY_SOURCES : source,
      ip: overflow ? null : (refusal.ip ?? null),
      userAgent: overflow ? null : (refusal.userAgent ?? null),
      intervalStart,
      first: at,
      last: at,
      count: 0,
      reasons: {},
      accounts: new Set(),
      ...(overflow ? { sources: new Set<string>() } : {}),
    };
    tallies.set(key, tally);
  }
  tally.count += 1;
  tally.reasons[refusal.reason] = (tally.reasons[refusal.reason] ?? 0) + 1;
  if (refusal.accountId) tally.accounts.add(refusal.accountId);
  // The overflow line counts its sources only up to the same bound, for the same reason.
  if (tally.sources && tally.sources.size < MAX_TALLIED_SOURCES) tally.sources.add(source);
  if (at < tally.first) tally.first = at;
  if (at > tally.last) tally.last = at;
  startFlushing();
}

/** Refusals counted and not yet written (for the health of the flush, and for tests). */
export function pendingRefusals(): number {
  let n = 0;
  for (const tally of tallies.values()) n += tally.count;
  return n;
}

/**
 * Writes one entry per tally whose interval has closed by `upTo` (every tally when `all`), a
 * batch per transaction: the chain's lock is taken once per batch, not once per refusal. A
 * batch whose write fails is put back and tried again at the next flush.
 */
export async function flushRefusals(options: { upTo?: Date; all?: boolean } = {}): Promise<number> {
  const upTo = (options.upTo ?? clockNow()).getTime();
  const due: Array<[string, Tally]> = [];
  for (const [key, tally] of tallies) {
    if (options.all || tally.intervalStart + REFUSAL_INTERVAL_MS <= upTo) due.push([key, tally]);
  }
  if (due.length === 0) return 0;
  for (const [key] of due) tallies.delete(key);
  const db = await getDb();
  for (let i = 0; i < due.length; i += FLUSH_BATCH) {
    try {
      await writeTallies(db, due.slice(i, i + FLUSH_BATCH));
    } catch (error) {
      for (const [key, tally] of due.slice(i)) if (!tallies.has(key)) tallies.set(key, tally);
      throw error;
    }
  }
  return due.length;
}

async function writeTallies(db: Db, due: Array<[string, Tally]>): Promise<void> {
  await db.transaction(async (tx) => {
    for (const [, tally] of due) {
      await recordAudit(tx, {
        actor: { userId: null, ip: tally.ip, userAgent: tally.userAgent },
        action: tally.action,
        resourceType: tally.resourceType,
        outcome: 'denied',
        occurredAt: tally.last,
        details: {
          aggregated: true,
          source: tally.ip ? undefined : tally.source,
          count: tally.count,
          reasons: tally.reasons,
          accounts: tally.accounts.size,
          sources: tally.sources?.size,
          from: tally.first.toISOString(),
          to: tally.last.toISOString(),
          intervalSeconds: REFUSAL_INTERVAL_MS / 1000,
        },
      });
    }
  });
}

/** One timer per process, which does not keep it alive; it starts with the first refusal. */
function startFlushing(): void {
  if (globalForTallies.vigilRefusalTimer) return;
  const timer = setInterval(() => {
    flushRefusals().catch((error: unknown) => log.error({ err: error }, 'Writing the tally of refused requests to the audit trail failed; it is retried.'));
  }, REFUSAL_INTERVAL_MS / 4);
  timer.unref();
  globalForTallies.vigilRefusalTimer = timer;
}
