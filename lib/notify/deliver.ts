import 'server-only';
import { and, asc, eq, inArray, isNull, lt, lte, sql } from 'drizzle-orm';
import { z } from 'zod';
import { getDb } from '@/db/client';
import { alertOutbox, userRoles, users } from '@/db/schema';
import { now as clockNow } from '@/lib/clock';

/**
 * The outbound half of privacy-officer notices: a worker that sends `alert_outbox` rows to a
 * webhook (JSON POST) and/or by e-mail (SMTP), retrying with exponential backoff. It runs off
 * the request path — kicked after a notice commits, then on timers while work is pending — so a
 * slow or broken receiver never delays a clinician. Several app instances may run it at once:
 * rows are claimed with FOR UPDATE SKIP LOCKED under a lease.
 *
 * Both channels see the same alert id (X-Vigil-Alert-Id / Message-ID): a row counts as
 * delivered only when every configured channel took it, so after a partial failure the retry
 * sends to all of them again and receivers should ignore an id they have seen.
 */
export const retryPolicy = {
  baseDelayMs: 30_000,
  maxDelayMs: 3_600_000,
  maxAttempts: 10,
  /** A claimed row is left alone this long, so a crashed worker's rows are picked up again. */
  leaseMs: 120_000,
  batchSize: 20,
  timeoutMs: 10_000,
} as const;

/** Delay before the next try after `attempts` failed tries: 30 s, 1 min, 2 min, … capped at 1 h. */
export function backoffMs(attempts: number): number {
  return Math.min(retryPolicy.baseDelayMs * 2 ** Math.max(0, attempts - 1), retryPolicy.maxDelayMs);
}

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
const envSchema = z.object({
  VIGIL_ALERT_WEBHOOK_URL: httpUrl.optional(),
  VIGIL_SMTP_URL: z.url({ protocol: /^smtps?$/, error: 'must be an smtp:// or smtps:// URL' }).optional(),
  VIGIL_ALERT_EMAIL_FROM: z.email().default('vigil-alerts@localhost'),
  /** Comma-separated; when unset, mail goes to every enabled holder of the audience role. */
  VIGIL_ALERT_EMAIL_TO: z.string().optional(),
  VIGIL_PUBLIC_URL: httpUrl.optional(),
});

export interface DeliveryConfig {
  webhookUrl?: string;
  smtpUrl?: string;
  mailFrom: string;
  mailTo?: string[];
  publicUrl?: string;
}

/** Read on every run, so configuration can change without a restart. Blank values mean unset. */
export function deliveryConfigFromEnv(env: Record<string, string | undefined> = process.env): DeliveryConfig {
  const blankless = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('VIGIL_') && v?.trim()));
  const parsed = envSchema.safeParse(blankless);
  if (!parsed.success) {
    const names = [...new Set(parsed.error.issues.map((i) => i.path.join('.')))].join(', ');
    throw new Error(`Alert delivery is misconfigured: check ${names}.`);
  }
  const e = parsed.data;
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

/**
 * One pass over the due rows. Each row is claimed (attempts + 1, lease) before anything is sent,
 * then marked delivered, or given its error and next try. Rows out of attempts stay in the table
 * with their last error, for an operator to see.
 */
export async function deliverDueAlerts(channels: Channel[], at = clockNow()): Promise<DeliveryRun> {
  const db = await getDb();
  if (channels.length === 0) return { delivered: 0, failed: 0, nextDueAt: null };
  const due = db
    .select({ id: alertOutbox.id })
    .from(alertOutbox)
    .where(and(isNull(alertOutbox.deliveredAt), lt(alertOutbox.attempts, retryPolicy.maxAttempts), lte(alertOutbox.nextAttemptAt, at)))
    .orderBy(asc(alertOutbox.nextAttemptAt))
    .limit(retryPolicy.batchSize)
    .for('update', { skipLocked: true });
  const claimed = await db
    .update(alertOutbox)
    .set({ attempts: sql`${alertOutbox.attempts} + 1`, nextAttemptAt: new Date(at.getTime() + retryPolicy.leaseMs) })
    .where(inArray(alertOutbox.id, due))
    .returning();

  let delivered = 0;
  let failed = 0;
  for (const row of claimed) {
    const alert = toAlert(row);
    const errors: string[] = [];
    for (const channel of channels) {
      try {
        await channel.send(alert);
      } catch (error) {
        errors.push(describe(channel.name, error));
      }
    }
    if (errors.length === 0) {
      await db.update(alertOutbox).set({ deliveredAt: clockNow(), lastError: null }).where(eq(alertOutbox.id, row.id));
      delivered++;
    } else {
      const lastError = row.attempts >= retryPolicy.maxAttempts ? `${errors.join('; ')} (gave up after ${row.attempts} attempts)` : errors.join('; ');
      await db
        .update(alertOutbox)
        .set({ lastError: lastError.slice(0, 500), nextAttemptAt: new Date(at.getTime() + backoffMs(row.attempts)) })
        .where(eq(alertOutbox.id, row.id));
      failed++;
    }
  }
  const [next] = await db
    .select({ at: alertOutbox.nextAttemptAt })
    .from(alertOutbox)
    .where(and(isNull(alertOutbox.deliveredAt), lt(alertOutbox.attempts, retryPolicy.maxAttempts)))
    .orderBy(asc(alertOutbox.nextAttemptAt))
    .limit(1);
  return { delivered, failed, nextDueAt: next?.at ?? null };
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
 * notice commits. While undelivered rows remain, the worker re-arms a timer for the next due row.
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
    if (run.nextDueAt) schedule(run.nextDueAt.getTime() - clockNow().getTime());
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
