import 'server-only';
import { and, asc, eq, isNull, lt, lte, sql } from 'drizzle-orm';
import { getDb, type Db } from '@/db/client';
import { alertOutbox, userRoles, users } from '@/db/schema';
import { now as clockNow } from '@/lib/platform/clock';
import { env, parseEnv, type EnvSource } from '@/lib/platform/env';

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
export const retryPolicy = {
  baseDelayMs: 30_000,
  maxDelayMs: 3_600_000,
  maxAttempts: 10,
  /**
   * A claimed row is left alone this long, so a crashed worker's rows are picked up again. It
   * must outlast one row's sending (channels × sendDeadlineMs: 2 × 30 s), or a second worker
   * could take the row while the first is still sending it.
   */
  leaseMs: 120_000,
  /** Rows per pass; a pass that stops here leaves the rest due, and the timer runs it again. */
  batchSize: 20,
  /** Connection/response timeout of each channel. */
  timeoutMs: 10_000,
  /** Hard limit on one channel's send, whatever its own timeouts do (SMTP's are per step). */
  sendDeadlineMs: 30_000,
  /** With nothing due sooner, look again this often: rows another instance left behind. */
  idleSweepMs: 300_000,
} as const;

/** Delay before the next try after `attempts` failed tries: 30 s, 1 min, 2 min, … capped at 1 h. */
export function backoffMs(attempts: number): number {
  return Math.min(retryPolicy.baseDelayMs * 2 ** Math.max(0, attempts - 1), retryPolicy.maxDelayMs);
}

export interface DeliveryConfig {
  webhookUrl?: string;
  smtpUrl?: string;
  mailFrom: string;
  mailTo?: string[];
  publicUrl?: string;
}

/** Read on every run, so configuration can change without a restart; `source` defaults to this process's. */
export function deliveryConfigFromEnv(source?: EnvSource): DeliveryConfig {
  const e = source ? parseEnv(source) : env();
  return {
    webhookUrl: e.VIGIL_ALERT_WEBHOOK_URL,
    smtpUrl: e.VIGIL_SMTP_URL,
    mailFrom: e.VIGIL_ALERT_EMAIL_FROM,
    mailTo: e.VIGIL_ALERT_EMAIL_TO?.split(',').map((s) => s.trim()).filter(Boolean),
    publicUrl: e.VIGIL_PUBLIC_URL,
  };
}

export interface OutboundAlert {
  id: string;
  kind: string;
  message: string;
  link: string | null;
  audience: string;
  createdAt: string;
}

export interface Channel {
  name: string;
  send(alert: OutboundAlert): Promise<void>;
}

/** A delivery failure whose text is safe to store: no URL, credentials or response body. */
class DeliveryFailure extends Error {}

function describe(channel: string, error: unknown): string {
  if (error instanceof DeliveryFailure) return `${channel}: ${error.message}`;
  const e = error as { name?: unknown; code?: unknown; cause?: { code?: unknown } };
  const code = typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : null;
  return `${channel}: ${[typeof e.name === 'string' ? e.name : 'Error', code].filter(Boolean).join(' ')}`;
}

export function webhookChannel(url: string): Channel {
  return {
    name: 'webhook',
    async send(alert) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-vigil-alert-id': alert.id },
        body: JSON.stringify(alert),
        redirect: 'error',
        signal: AbortSignal.timeout(retryPolicy.timeoutMs),
      });
      await response.body?.cancel();
      if (!response.ok) throw new DeliveryFailure(`HTTP ${response.status}`);
    },
  };
}

export function smtpChannel(config: DeliveryConfig & { smtpUrl: string }): Channel {
  return {
    name: 'smtp',
    async send(alert) {
      const to = config.mailTo?.length ? config.mailTo : await audienceEmails(alert.audience);
      if (to.length === 0) throw new DeliveryFailure('no recipients');
      const { createTransport } = await import('nodemailer');
      const transport = createTransport(config.smtpUrl, {
        connectionTimeout: retryPolicy.timeoutMs,
        greetingTimeout: retryPolicy.timeoutMs,
        socketTimeout: retryPolicy.timeoutMs,
      });
      const link = alert.link ? `${config.publicUrl?.replace(/\/$/, '') ?? ''}${alert.link}` : null;
      try {
        await transport.sendMail({
          from: config.mailFrom,
          to,
          subject: `[Vigil] ${alert.message.slice(0, 120)}`,
          text: [alert.message, link ? `Review: ${link}` : null, `Alert id: ${alert.id}`].filter(Boolean).join('\n\n'),
          messageId: `<${alert.id}@vigil.alerts>`,
          headers: { 'X-Vigil-Alert-Id': alert.id },
        });
      } finally {
        transport.close();
      }
    },
  };
}

async function audienceEmails(role: string): Promise<string[]> {
  const db = await getDb();
  const rows = await db
    .select({ email: users.email })
    .from(users)
    .innerJoin(userRoles, eq(userRoles.userId, users.id))
    .where(and(eq(userRoles.roleName, role), isNull(users.disabledAt)));
  return rows.map((r) => r.email);
}

export function channelsFor(config: DeliveryConfig): Channel[] {
  const channels: Channel[] = [];
  if (config.webhookUrl) channels.push(webhookChannel(config.webhookUrl));
  if (config.smtpUrl) channels.push(smtpChannel({ ...config, smtpUrl: config.smtpUrl }));
  return channels;
}

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
      errors.push(describe(channel.name, error));
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

// ---------------------------------------------------------------- background scheduling

interface WorkerState {
  running: Promise<void> | null;
  again: boolean;
  timer: ReturnType<typeof setTimeout> | null;
}
const globalForWorker = globalThis as unknown as { vigilAlertWorker?: WorkerState };
const worker = (globalForWorker.vigilAlertWorker ??= { running: null, again: false, timer: null });

/**
 * Starts a delivery pass in the background and returns at once; never throws. Called after a
 * notice commits and at server start. The worker then re-arms a timer for the next due row, or
 * for an idle sweep (rows another instance claimed and never finished). Without a configured
 * channel it does nothing, not even open the database.
 */
export function kickAlertDelivery(): void {
  if (worker.running) {
    worker.again = true;
    return;
  }
  worker.running = (async () => {
    do {
      worker.again = false;
      await runOnce();
    } while (worker.again);
  })().finally(() => {
    worker.running = null;
  });
}

async function runOnce(): Promise<void> {
  try {
    const config = deliveryConfigFromEnv();
    const channels = channelsFor(config);
    if (channels.length === 0) return;
    const run = await deliverDueAlerts(channels);
    const dueInMs = run.nextDueAt ? run.nextDueAt.getTime() - clockNow().getTime() : Infinity;
    schedule(Math.min(dueInMs, retryPolicy.idleSweepMs));
  } catch (error) {
    // Nothing to tell the clinician; the rows keep their state and the next kick retries.
    console.error('Alert delivery pass failed.', (error as Error)?.name ?? 'Error');
    schedule(retryPolicy.baseDelayMs);
  }
}

function schedule(delayMs: number): void {
  if (worker.timer) clearTimeout(worker.timer);
  worker.timer = setTimeout(() => {
    worker.timer = null;
    kickAlertDelivery();
  }, Math.max(1_000, delayMs));
  worker.timer.unref?.();
}

/** For tests and shutdown: cancel the timer and wait for a pass in flight. */
export async function stopAlertDelivery(): Promise<void> {
  worker.again = false;
  await worker.running;
  if (worker.timer) clearTimeout(worker.timer);
  worker.timer = null;
}
