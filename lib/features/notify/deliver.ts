import 'server-only';
import { and, asc, eq, isNull, lt, lte, sql } from 'drizzle-orm';
import { getDb, type Db } from '@/db/client';
import { alertOutbox } from '@/db/schema';
import { now as clockNow } from '@/lib/platform/clock';
import { DeliveryFailure, describeFailure, type Channel, type OutboundAlert } from './channels';
import { backoffMs, retryPolicy } from './retry-policy';

/**
 * The outbound half of privacy-officer notices: a worker that sends `alert_outbox` rows to a
 * webhook (JSON POST) and/or by e-mail (SMTP), retrying with exponential backoff. It runs off
 * the request path — kicked after a notice commits, then on timers while work is pending — so a
 * slow or broken receiver never delays a clinician. The server kicks it once at start-up
 * (instrumentation.ts), so rows a stopped process left behind go out without waiting for the
 * next notice. Several app instances may run it at once: each row is claimed, one at a time and
 * just before it is sent, with FOR UPDATE SKIP LOCKED under a lease that outlasts its sending.
 *
 * Both channels see the same alert id (X-Vigil-Alert-Id / Message-ID): a row counts as
 * delivered only when every configured channel took it, so after a partial failure the retry
 * sends to all of them again and receivers should ignore an id they have seen.
 */

export interface DeliveryRun {
  delivered: number;
  failed: number;
  /** When the earliest undelivered row is next due, or null when nothing is left to try. */
  nextDueAt: Date | null;
}

/** Undelivered and with attempts left (whenever due). */
const pending = () => and(isNull(alertOutbox.deliveredAt), lt(alertOutbox.attempts, retryPolicy.maxAttempts));

/**
 * One pass over the due rows. Each row is claimed (attempts + 1, lease) just before it is sent,
 * then marked delivered, or given its error and next try. Rows out of attempts stay in the table
 * with their last error, for an operator to see.
 */
export async function deliverDueAlerts(channels: Channel[], at = clockNow()): Promise<DeliveryRun> {
  const db = await getDb();
  if (channels.length === 0) return { delivered: 0, failed: 0, nextDueAt: null };
  let delivered = 0;
  let failed = 0;
  for (let n = 0; n < retryPolicy.batchSize; n++) {
    const row = await claimNextDue(db, at);
    if (!row) break;
    const errors = await sendEverywhere(channels, toAlert(row));
    if (errors.length === 0) {
      // Delivered is a fact, even if another worker has taken the row since: record it.
      await db
        .update(alertOutbox)
        .set({ deliveredAt: clockNow(), lastError: null })
        .where(and(eq(alertOutbox.id, row.id), isNull(alertOutbox.deliveredAt)));
      delivered++;
    } else {
      const lastError = row.attempts >= retryPolicy.maxAttempts ? `${errors.join('; ')} (gave up after ${row.attempts} attempts)` : errors.join('; ');
      // Only while this claim is the latest (attempts unchanged): never overwrite a newer one.
      await db
        .update(alertOutbox)
        .set({ lastError: lastError.slice(0, 500), nextAttemptAt: new Date(at.getTime() + backoffMs(row.attempts)) })
        .where(and(eq(alertOutbox.id, row.id), eq(alertOutbox.attempts, row.attempts), isNull(alertOutbox.deliveredAt)));
      failed++;
    }
  }
  const [next] = await db.select({ at: alertOutbox.nextAttemptAt }).from(alertOutbox).where(pending()).orderBy(asc(alertOutbox.nextAttemptAt)).limit(1);
  return { delivered, failed, nextDueAt: next?.at ?? null };
}

/**
 * Claims the earliest due row in one statement: the subquery locks it (SKIP LOCKED: a
 * concurrent claim passes over it rather than queueing behind it), and a claim that meets a row
 * another worker has just claimed re-checks it, finds it leased, and takes the next one. So two
 * workers, in one process or in two app instances, never hold the same row. One row at a time,
 * so the lease starts when the row's sending does; a batch claimed up front could run out of
 * lease (20 rows × slow receiver) and be taken and sent again by another instance.
 */
async function claimNextDue(db: Db, at: Date): Promise<typeof alertOutbox.$inferSelect | undefined> {
  const due = and(pending(), lte(alertOutbox.nextAttemptAt, at));
  const next = db.select({ id: alertOutbox.id }).from(alertOutbox).where(due).orderBy(asc(alertOutbox.nextAttemptAt)).limit(1).for('update', { skipLocked: true });
  // The lease runs from now (late in a long pass) or from `at`, whichever is later.
  const leaseFrom = Math.max(at.getTime(), clockNow().getTime());
  const [row] = await db
    .update(alertOutbox)
    .set({ attempts: sql`${alertOutbox.attempts} + 1`, nextAttemptAt: new Date(leaseFrom + retryPolicy.leaseMs) })
    .where(and(sql`${alertOutbox.id} = (${next})`, due))
    .returning();
  return row;
}

/** Every channel, each within its deadline; the errors, safe to store. */
async function sendEverywhere(channels: Channel[], alert: OutboundAlert): Promise<string[]> {
  const errors: string[] = [];
  for (const channel of channels) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeliveryFailure('timed out')), retryPolicy.sendDeadlineMs);
    });
    try {
      await Promise.race([channel.send(alert), deadline]);
    } catch (error) {
      errors.push(describeFailure(channel.name, error));
    } finally {
      clearTimeout(timer);
    }
  }
  return errors;
}

function toAlert(row: typeof alertOutbox.$inferSelect): OutboundAlert {
  const p = row.payload;
  const text = (v: unknown, fallback = '') => (typeof v === 'string' ? v : fallback);
  return {
    id: row.id,
    kind: text(p.kind, 'notice'),
    message: text(p.message),
    link: typeof p.link === 'string' ? p.link : null,
    audience: text(p.audience, 'privacy_officer'),
    createdAt: text(p.createdAt, row.createdAt.toISOString()),
  };
}
