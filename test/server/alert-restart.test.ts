/**
 * After a restart, privacy-officer alerts the stopped server left undelivered go out without any
 * new notice: the production server's start-up hook (instrumentation.ts register()) runs a
 * delivery pass. The row is written while the portal is down, as if the webhook had been down
 * when it stopped (one failed attempt, due again long ago); the portal starts again with a
 * webhook on 127.0.0.1, which must receive the alert within a few seconds.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertOutbox } from '@/db/schema';
import { openPortalDatabase } from '@/bench/load/portal';
import { startPortal, type RunningPortal } from '@/bench/load/stack';
import { serverTestBuild } from './harness';

/** From the restarted server answering /api/health to the alert at the receiver. */
const DELIVERED_WITHIN_MS = 10_000;

const received: Array<{ headers: IncomingMessage['headers']; body: { id?: string; message?: string } }> = [];
const receiver = createServer((req, res) => {
  let raw = '';
  req.on('data', (chunk) => (raw += chunk));
  req.on('end', () => {
    received.push({ headers: req.headers, body: JSON.parse(raw) });
    res.writeHead(200).end('ok');
  });
});

let running: RunningPortal | undefined;
const webhookBefore = process.env.VIGIL_ALERT_WEBHOOK_URL;

beforeAll(async () => {
  const distDir = serverTestBuild();
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  // PortalServer passes this process's environment to `next start`.
  process.env.VIGIL_ALERT_WEBHOOK_URL = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/vigil`;
  running = await startPortal('pglite', distDir, { patients: 1, clinicians: 0, caseload: 0 }, { port: 3680 });
});

afterAll(async () => {
  if (webhookBefore === undefined) delete process.env.VIGIL_ALERT_WEBHOOK_URL;
  else process.env.VIGIL_ALERT_WEBHOOK_URL = webhookBefore;
  await running?.cleanup();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

describe('alert delivery across a restart', () => {
  it('sends an alert left undelivered when the server stopped, with no new notice', async () => {
    const { portal, inspectConfig } = running!;
    await portal.stop();

    // PGlite: only one process may open the data directory, so the row goes in while it is down.
    let handle = await openPortalDatabase(inspectConfig);
    const [row] = await handle.db
      .insert(alertOutbox)
      .values({
        payload: { kind: 'break_glass.granted', message: 'Dr. Test used emergency access.', audience: 'privacy_officer' },
        attempts: 1,
        lastError: 'webhook: TypeError ECONNREFUSED',
        nextAttemptAt: new Date(Date.now() - 3_600_000),
      })
      .returning();
    await handle.close();
    expect(received).toEqual([]);

    await portal.start();
    const ready = Date.now();
    while (received.length === 0 && Date.now() - ready < DELIVERED_WITHIN_MS) await new Promise((r) => setTimeout(r, 100));
    const tookMs = Date.now() - ready;
    console.log(received.length ? `alert delivered ${tookMs} ms after the restarted portal was healthy` : `no alert ${tookMs} ms after the restart`);

    expect(received.map((r) => r.body.id)).toEqual([row!.id]);
    expect(received[0]!.headers['x-vigil-alert-id']).toBe(row!.id);
    expect(received[0]!.body.message).toBe('Dr. Test used emergency access.');

    await new Promise((r) => setTimeout(r, 1_000)); // the pass that sent it records it, then stop
    await portal.stop();
    handle = await openPortalDatabase(inspectConfig);
    try {
      const [after] = await handle.db.select().from(alertOutbox).where(eq(alertOutbox.id, row!.id));
      expect(after).toMatchObject({ attempts: 2, lastError: null });
      expect(after!.deliveredAt).not.toBeNull();
    } finally {
      await handle.close();
    }
  });
});
