/**
 * Outbound alerts: delivered to a local webhook and a local SMTP server that fail first and
 * then succeed, with the attempts, backoff and last error recorded; and never in the way of
 * the clinician whose grant raised them.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { eq, sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Db } from '@/db/client';
import { alertOutbox, patients } from '@/db/schema';
import { DEMO_PASSWORD } from '@/db/seed';
import { requestGrant } from '@/lib/features/break-glass';
import { testDatabaseKind, type TestDatabase } from '@/test/db';
import { testDatabase, viewer as signIn } from '@/test/fixtures';
import { deliveryConfigFromEnv, smtpChannel, webhookChannel, type Channel } from '@/lib/features/notify/channels';
import { deliverDueAlerts } from '@/lib/features/notify/deliver';
import { backoffMs, retryPolicy } from '@/lib/features/notify/retry-policy';
import { stopAlertDelivery } from '@/lib/features/notify/worker';
import { notifyPrivacyOfficers } from '@/lib/features/notify';
import { loadRolesAndPermissions } from '@/lib/pipeline/actor';
import { register } from '@/instrumentation';
import { now as clockNow } from '@/lib/platform/clock';

// register() would route this worker's console through the server logger: not in a test.
vi.mock('@/lib/platform/log/console', () => ({ installConsoleRedaction: () => {} }));

let handle: TestDatabase;
let db: Db;

beforeAll(async () => {
  handle = await testDatabase({ patients: 3 });
  db = handle.db;
});
afterAll(async () => {
  await stopAlertDelivery();
  await handle?.close();
});
afterEach(async () => {
  delete process.env.VIGIL_ALERT_WEBHOOK_URL;
  await stopAlertDelivery();
  await db.delete(alertOutbox);
});

interface Received {
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

/** A webhook on 127.0.0.1 that answers each request with the next status in `statuses` (then 200), after `delayMs`. */
async function webhook(statuses: number[], delayMs = 0): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createHttpServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: JSON.parse(raw) });
      setTimeout(() => res.writeHead(statuses.shift() ?? 200).end('ok'), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/vigil`, received, server };
}

const close = (server: Server | TcpServer) => new Promise<void>((resolve) => server.close(() => resolve()));
const rows = () => db.select().from(alertOutbox);

describe('alert delivery', () => {
  it('backs off exponentially up to an hour', () => {
    expect([1, 2, 3, 4].map(backoffMs)).toEqual([30_000, 60_000, 120_000, 240_000]);
    expect(backoffMs(20)).toBe(3_600_000);
  });

  it('retries a webhook that fails first, then records the delivery', async () => {
    const hook = await webhook([500]);
    await notifyPrivacyOfficers(db, { kind: 'break_glass.granted', message: 'Dr. Ben Okafor used emergency access.', link: '/admin/break-glass/x' });
    const t0 = new Date();
    const channels = [webhookChannel(hook.url)];

    expect(await deliverDueAlerts(channels, t0)).toMatchObject({ delivered: 0, failed: 1 });
    let [row] = await rows();
    expect(row).toMatchObject({ attempts: 1, lastError: 'webhook: HTTP 500', deliveredAt: null });
    expect(row!.nextAttemptAt.getTime()).toBe(t0.getTime() + 30_000);

    expect(await deliverDueAlerts(channels, new Date(t0.getTime() + 29_000))).toMatchObject({ delivered: 0, failed: 0 });
    expect(hook.received).toHaveLength(1);

    expect(await deliverDueAlerts(channels, new Date(t0.getTime() + 31_000))).toMatchObject({ delivered: 1, failed: 0, nextDueAt: null });
    [row] = await rows();
    expect(row).toMatchObject({ attempts: 2, lastError: null });
    expect(row!.deliveredAt).not.toBeNull();

    expect(hook.received).toHaveLength(2);
    for (const r of hook.received) {
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['x-vigil-alert-id']).toBe(row!.id);
      expect(r.body).toMatchObject({ id: row!.id, kind: 'break_glass.granted', message: 'Dr. Ben Okafor used emergency access.', link: '/admin/break-glass/x', audience: 'privacy_officer' });
    }
    await close(hook.server);
  });

  it('stores a failure without the URL, and gives up after the last attempt', async () => {
    const hook = await webhook([]);
    await close(hook.server); // nothing listens there any more: connection refused
    await notifyPrivacyOfficers(db, { kind: 'incident.opened', message: 'A case was opened.' });
    let at = new Date();
    await deliverDueAlerts([webhookChannel(hook.url)], at);
    let [row] = await rows();
    expect(row!.lastError).toMatch(/^webhook: \w+/);
    expect(row!.lastError).not.toContain('127.0.0.1');

    const failing: Channel = { name: 'webhook', send: async () => Promise.reject(new TypeError('fetch failed')) };
    for (let attempt = 2; attempt <= retryPolicy.maxAttempts; attempt++) {
      at = new Date(row!.nextAttemptAt.getTime() + 1);
      await deliverDueAlerts([failing], at);
      [row] = await rows();
      expect(row!.attempts).toBe(attempt);
    }
    expect(row!.lastError).toContain(`gave up after ${retryPolicy.maxAttempts} attempts`);
    expect(await deliverDueAlerts([failing], new Date(at.getTime() + 10 * 3_600_000))).toEqual({ delivered: 0, failed: 0, nextDueAt: null });
  });

  it('sends mail through SMTP, retrying after a temporary refusal', async () => {
    const messages: string[] = [];
    let connections = 0;
    const smtp = createTcpServer((socket) => {
      const refuse = connections++ === 0;
      let data = false;
      let buffer = '';
      socket.write('220 localhost test SMTP\r\n');
      socket.on('data', (chunk) => {
        buffer += chunk.toString();
        let end: number;
        while (data ? (end = buffer.indexOf('\r\n.\r\n')) >= 0 : (end = buffer.indexOf('\r\n')) >= 0) {
          const line = buffer.slice(0, end);
          buffer = buffer.slice(end + (data ? 5 : 2));
          if (data) {
            messages.push(line);
            data = false;
            socket.write('250 queued\r\n');
          } else if (/^(EHLO|HELO)/i.test(line)) socket.write('250 localhost\r\n');
          else if (/^MAIL FROM/i.test(line)) socket.write(refuse ? '451 try again later\r\n' : '250 ok\r\n');
          else if (/^RCPT TO/i.test(line)) socket.write('250 ok\r\n');
          else if (/^DATA/i.test(line)) {
            data = true;
            socket.write('354 go ahead\r\n');
          } else if (/^QUIT/i.test(line)) socket.end('221 bye\r\n');
          else socket.write('250 ok\r\n');
        }
      });
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    const smtpUrl = `smtp://127.0.0.1:${(smtp.address() as AddressInfo).port}`;
    // No VIGIL_ALERT_EMAIL_TO: mail goes to the enabled privacy officers — by role rows Vigil wrote, not one forged in SQL.
    await db.execute(sql`INSERT INTO user_roles (user_id, role_name) SELECT id, 'privacy_officer' FROM users WHERE email = 'nurse@vigil.test'`);
    // Its first read reports it, and the tampering case raises an alert of its own: cleared, so this test follows its one alert.
    await loadRolesAndPermissions(db, (await signIn(db, 'nurse@vigil.test')).userId);
    await db.delete(alertOutbox);
    const channels = [smtpChannel({ ...deliveryConfigFromEnv({}), smtpUrl, publicUrl: 'https://vigil.example.org' })];
    await notifyPrivacyOfficers(db, { kind: 'break_glass.granted', message: 'Dr. Ben Okafor used emergency access.', link: '/admin/break-glass/abc' });
    const t0 = new Date();

    expect(await deliverDueAlerts(channels, t0)).toMatchObject({ failed: 1 });
    expect((await rows())[0]!.lastError).toMatch(/^smtp: /);
    expect(await deliverDueAlerts(channels, new Date(t0.getTime() + 31_000))).toMatchObject({ delivered: 1 });
    expect(messages).toHaveLength(1);
    const [row] = await rows();
    expect(messages[0]).toContain('To: privacy@vigil.test');
    expect(messages[0]).not.toContain('nurse@vigil.test');
    expect(messages[0]).toMatch(new RegExp(`^X-Vigil-Alert-Id: ${row!.id}$`, 'im'));
    expect(messages[0]).toContain('Dr. Ben Okafor used emergency access.');
    expect(messages[0]).toContain('https://vigil.example.org/admin/break-glass/abc');
    await close(smtp);
  });

  it('rejects configuration it cannot use, naming the variable but not its value', () => {
    expect(deliveryConfigFromEnv({ VIGIL_ALERT_WEBHOOK_URL: '  ' })).toMatchObject({ webhookUrl: undefined });
    expect(() => deliveryConfigFromEnv({ VIGIL_ALERT_WEBHOOK_URL: 'ftp://user:secret@host/' })).toThrow(/VIGIL_ALERT_WEBHOOK_URL/);
    expect(() => deliveryConfigFromEnv({ VIGIL_ALERT_WEBHOOK_URL: 'ftp://user:secret@host/' })).not.toThrow(/secret/);
  });

  it('never makes the clinician wait for a slow receiver', async () => {
    const hook = await webhook([], 3_000);
    process.env.VIGIL_ALERT_WEBHOOK_URL = hook.url;
    const viewer = await signIn(db, 'physician2@vigil.test', { client: { ip: null, userAgent: null } });
    const [target] = await db.select({ id: patients.id }).from(patients).limit(1);

    const started = performance.now();
    const result = await requestGrant(viewer, {
      patientId: target!.id,
      reasonCode: 'emergency_treatment',
      justification: 'Unresponsive in ED resus, treating team unreachable; need allergies.',
      secret: DEMO_PASSWORD,
    });
    const took = performance.now() - started;
    expect(result.ok).toBe(true);
    expect(took).toBeLessThan(2_500);
    expect((await rows())[0]!.deliveredAt).toBeNull();

    await stopAlertDelivery(); // waits for the background pass, which waits for the slow webhook
    expect(hook.received).toHaveLength(1);
    expect((await rows())[0]!.deliveredAt).not.toBeNull();
    await close(hook.server);
  });
});

/** `n` outbox rows, due one second apart up to a second before `at`, oldest first. */
async function dueRows(n: number, at: Date): Promise<string[]> {
  const values = Array.from({ length: n }, (_, i) => ({ payload: { kind: 'test', message: `Alert ${i}.` }, nextAttemptAt: new Date(at.getTime() - (n - i) * 1_000) }));
  return (await db.insert(alertOutbox).values(values).returning({ id: alertOutbox.id })).map((r) => r.id);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('several workers at once (app instances on one database)', () => {
  it('never gives one row to two passes running at the same moment', async () => {
    const at = clockNow();
    const ids = await dueRows(30, at);
    const sent: Array<{ pass: number; id: string }> = [];
    const channel = (pass: number): Channel => ({
      name: 'webhook',
      send: async (alert) => {
        sent.push({ pass, id: alert.id });
        await sleep(2);
      },
    });
    // On PostgreSQL each pass's statements go over their own pooled connections, side by side.
    const runs = await Promise.all([0, 1, 2, 3, 4, 5].map((pass) => deliverDueAlerts([channel(pass)], at)));

    expect(sent.map((s) => s.id).sort()).toEqual([...ids].sort());
    expect(runs.reduce((sum, r) => sum + r.delivered, 0)).toBe(30);
    expect(new Set(sent.map((s) => s.pass)).size).toBeGreaterThan(1); // the passes really shared the work
    const after = await rows();
    expect(after.every((r) => r.deliveredAt !== null && r.attempts === 1)).toBe(true);
  });

  // PGlite has one connection: a second worker's open transaction cannot hold a lock beside it.
  // So this is declared on PostgreSQL only (never a skipped test).
  if (testDatabaseKind === 'postgres') it('skips a row another worker is claiming, neither waiting for it nor taking it too', async () => {
    const at = clockNow();
    const [busy, free] = await dueRows(2, at);
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    let commit!: () => void;
    const committing = new Promise<void>((resolve) => (commit = resolve));
    // Another instance's claim of the older row, caught between locking it and committing.
    const otherClaim = db.transaction(async (tx) => {
      await tx.select({ id: alertOutbox.id }).from(alertOutbox).where(eq(alertOutbox.id, busy!)).for('update');
      locked();
      await committing;
      await tx.update(alertOutbox).set({ attempts: 1, nextAttemptAt: new Date(at.getTime() + retryPolicy.leaseMs) }).where(eq(alertOutbox.id, busy!));
    });
    await isLocked;
    const sent: string[] = [];
    const recorder: Channel = { name: 'webhook', send: async (alert) => void sent.push(alert.id) };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const blocked = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the pass waited for the other claim')), 5_000)));
    try {
      expect(await Promise.race([deliverDueAlerts([recorder], at), blocked])).toMatchObject({ delivered: 1 });
      expect(sent).toEqual([free]);
    } finally {
      clearTimeout(timer);
      commit();
      await otherClaim;
    }
    expect(await deliverDueAlerts([recorder], at)).toMatchObject({ delivered: 0 });
    expect(sent).toEqual([free]);
  });

  it('claims a row only as it sends it: a slow pass leaves the rest to another worker', async () => {
    const t0 = clockNow();
    const [first, ...rest] = await dueRows(3, t0);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const sentBySlow: string[] = [];
    const slow: Channel = {
      name: 'webhook',
      send: async (alert) => {
        sentBySlow.push(alert.id);
        await gate;
      },
    };
    const slowPass = deliverDueAlerts([slow], t0);
    await vi.waitFor(() => expect(sentBySlow).toEqual([first]));

    // While the first row is being sent, it alone is claimed, its lease counted from now.
    const byId = new Map((await rows()).map((r) => [r.id, r]));
    expect(byId.get(first!)!.attempts).toBe(1);
    expect(byId.get(first!)!.nextAttemptAt.getTime()).toBeGreaterThanOrEqual(t0.getTime() + retryPolicy.leaseMs);
    for (const id of rest) expect(byId.get(id)!.attempts).toBe(0);

    // A second worker a minute later (inside the lease) takes the other rows, not the first.
    const sentByOther: string[] = [];
    const other = await deliverDueAlerts([{ name: 'webhook', send: async (alert) => void sentByOther.push(alert.id) }], new Date(t0.getTime() + 60_000));
    expect(other).toMatchObject({ delivered: 2, failed: 0 });
    expect(sentByOther).toEqual(rest);

    release();
    expect(await slowPass).toMatchObject({ delivered: 1, failed: 0, nextDueAt: null });
    expect(sentBySlow).toEqual([first]);
  });

  it('does not let a worker whose lease ran out overwrite the newer claim', async () => {
    const t0 = clockNow();
    const [id] = await dueRows(1, t0);
    let fail!: (error: Error) => void;
    const stuck: Channel = { name: 'webhook', send: () => new Promise<void>((_, reject) => (fail = reject)) };
    const stuckPass = deliverDueAlerts([stuck], t0);
    await vi.waitFor(() => expect(fail).toBeTypeOf('function'));

    // After the lease, another worker takes the row over and fails it: attempt 2, its backoff.
    const later = new Date(t0.getTime() + retryPolicy.leaseMs + 1_000);
    await deliverDueAlerts([{ name: 'webhook', send: async () => Promise.reject(new TypeError('fetch failed')) }], later);
    const [taken] = await rows();
    expect(taken).toMatchObject({ id, attempts: 2, lastError: 'webhook: TypeError' });

    // The first worker's late failure leaves the newer claim's state alone.
    fail(new TypeError('fetch failed'));
    await stuckPass;
    const [row] = await rows();
    expect(row).toMatchObject({ attempts: 2, lastError: 'webhook: TypeError' });
    expect(row!.nextAttemptAt.getTime()).toBe(later.getTime() + backoffMs(2));
  });
});

describe('at server start (instrumentation.ts register())', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('sends what a stopped process left undelivered, and later rows when they fall due, with no new notice', async () => {
    const hook = await webhook([]);
    process.env.VIGIL_ALERT_WEBHOOK_URL = hook.url;
    vi.stubEnv('NEXT_RUNTIME', 'nodejs');
    const t0 = clockNow();
    // One that failed while the receiver was down, due for an hour; one the stopped process
    // had claimed when it stopped, free again when its lease runs out in 1.5 s.
    const [overdue, leased] = await db
      .insert(alertOutbox)
      .values([
        { payload: { kind: 'test', message: 'Left behind.' }, attempts: 3, lastError: 'webhook: TypeError', nextAttemptAt: new Date(t0.getTime() - 3_600_000) },
        { payload: { kind: 'test', message: 'Claimed when the server stopped.' }, attempts: 1, nextAttemptAt: new Date(t0.getTime() + 1_500) },
      ])
      .returning();

    await register();
    // Start-up also queues its own off-host record of the audit checkpoint: look at ours only.
    const ours = () => hook.received.filter((r) => r.body.kind === 'test').map((r) => r.body.id);
    await vi.waitFor(() => expect(ours()).toEqual([overdue!.id]), { timeout: 3_000 });
    await vi.waitFor(() => expect(ours()).toEqual([overdue!.id, leased!.id]), { timeout: 5_000 });
    expect(clockNow().getTime()).toBeGreaterThanOrEqual(t0.getTime() + 1_500);
    await stopAlertDelivery(); // the pass that sent it records it
    const after = (await rows()).filter((r) => r.id === overdue!.id || r.id === leased!.id);
    expect(after).toHaveLength(2);
    expect(after.every((r) => r.deliveredAt !== null && r.lastError === null)).toBe(true);
    await close(hook.server);
  });

  it('sends nothing while `next build` loads it', async () => {
    const hook = await webhook([]);
    process.env.VIGIL_ALERT_WEBHOOK_URL = hook.url;
    vi.stubEnv('NEXT_RUNTIME', 'nodejs');
    vi.stubEnv('NEXT_PHASE', 'phase-production-build');
    await dueRows(1, clockNow());
    await register();
    await sleep(300);
    await stopAlertDelivery();
    expect(hook.received).toEqual([]);
    expect((await rows())[0]!.attempts).toBe(0);
    await close(hook.server);
  });
});

