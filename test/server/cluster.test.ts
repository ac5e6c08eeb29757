/**
 * Two portal instances behind HAProxy (round robin, no sticky sessions) on a PostgreSQL primary
 * with a synchronous standby, as bench/cluster starts them. One browser session's requests land
 * on both instances, and everything that must hold for one portal holds across them: sign-in,
 * a server action rendered by one instance and posted to the other, the idle timeout (the test
 * clock moved on every instance), sign-out, disabling a user, a break-glass grant and its
 * banner, a crypto-shred, a monitoring burst split across both, alerts sent once. Concurrent
 * writes through both leave the trail verifying. Last, failover under load: the primary is
 * killed with kill -9 and the standby promoted while clinicians write; every acknowledged write
 * is there, nothing is partial, the trail verifies, and the same processes serve again.
 */
import { createServer } from 'node:http';
import { and, eq, inArray, notInArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '@/db/client';
import { alertOutbox, auditLog, careTeam, incidents, users, vitals } from '@/db/schema';
import { DEMO_PASSWORD } from '@/db/seed';
import { checkTrail, vitalsIntegrity } from '@/bench/cluster/checks';
import { startCluster, type RunningCluster } from '@/bench/cluster/cluster';
import { SessionBrowser } from '@/bench/cluster/browser';
import { failoverUnderLoad } from '@/bench/cluster/failover';
import type { ReplicatedPostgres } from '@/bench/cluster/replication';
import { freePort, keyFileOf, openPortalDatabase, userIdsByEmail, type PortalConfig } from '@/bench/load/portal';
import { runLoad } from '@/bench/load/run';
import { createSession } from '@/lib/features/credentials/sessions';
import { setUserDisabled } from '@/lib/features/admin';
import { monitorConfigSchema, saveMonitorConfig } from '@/lib/features/monitor/config';
import { shredPatient } from '@/lib/ops/keys/shred';
import { loadRolesAndPermissions } from '@/lib/pipeline/actor';
import { storedEntryBody } from '@/test/fixtures';
import { serverTestBuild } from './harness';

const PATIENTS = 30;
const CASELOAD = 8;
/** Load nurses: 0-1 write concurrently (and again through the failover); the others are each one test's. */
const NURSES = 6;
const nurse = { loadA: 0, loadB: 1, action: 2, shred: 3, burst: 4, idle: 5 } as const;
/** A denial burst this size is CRITICAL (the monitor's settings for this deployment). */
const BURST = { high: 4, critical: 8 };

const received: Array<{ id: string; kind: string }> = [];
const webhook = createServer((req, res) => {
  let raw = '';
  req.on('data', (chunk) => (raw += chunk));
  req.on('end', () => {
    const body = JSON.parse(raw || '{}') as { id?: string; kind?: string };
    received.push({ id: String(body.id), kind: String(body.kind) });
    res.writeHead(200).end('ok');
  });
});

let cluster: RunningCluster;
let db: Db;
let closeDb: () => Promise<void>;
let emails: string[];
let patientIds: string[];

/** Patients on load nurse i's care team (bench/load/portal.ts: from i × 7 on). */
const caseloadOf = (i: number) => Array.from({ length: CASELOAD }, (_, k) => patientIds[(i * 7 + k) % patientIds.length]!);
const [a, b] = [0, 1].map((i) => () => cluster.instances[i]!.baseUrl) as [() => string, () => string];
const redirectsToLogin = (page: { status: number; location: string | null }) => page.status >= 300 && page.status < 400 && /\/login\b/.test(page.location ?? '');

async function moveClocks(body: { advanceMs?: number; reset?: boolean }): Promise<void> {
  for (const instance of cluster.instances) {
    const response = await fetch(`${instance.baseUrl}/api/test/clock`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', origin: instance.baseUrl } });
    expect(response.status, `the test clock of ${instance.baseUrl}`).toBe(200);
  }
}

async function asAdmin() {
  const [admin] = await db.select().from(users).where(eq(users.email, 'admin@vigil.test')).limit(1);
  const { roles, permissions } = await loadRolesAndPermissions(db, admin!.id);
  const session = await createSession(db, admin!.id, { ip: '127.0.0.1', userAgent: 'vigil cluster test' });
  return { userId: admin!.id, sessionId: session.id, email: admin!.email, displayName: admin!.displayName, roles, permissions, ip: '127.0.0.1', userAgent: 'vigil cluster test' };
}

async function openInspection(config: PortalConfig) {
  const handle = await openPortalDatabase(config);
  db = handle.db;
  closeDb = handle.close;
}

beforeAll(async () => {
  const distDir = serverTestBuild();
  const hookPort = await freePort(3235);
  await new Promise<void>((resolve) => webhook.listen(hookPort, '127.0.0.1', resolve));
  cluster = await startCluster({
    instances: 2,
    distDir,
    replicated: true,
    fixture: { patients: PATIENTS, clinicians: NURSES, caseload: CASELOAD },
    ports: { portal: 3230, proxy: 3237, postgres: { from: 55630, to: 55639 } },
    env: { VIGIL_TEST_CLOCK: '1', VIGIL_ALERT_WEBHOOK_URL: `http://127.0.0.1:${hookPort}/alerts` },
    prepare: async (config) => {
      const handle = await openPortalDatabase(config);
      try {
        await saveMonitorConfig(handle.db, monitorConfigSchema.parse({ volumeFloor: 100_000, denialBurst: { windowMinutes: 10, ...BURST } }), null);
      } finally {
        await handle.close();
      }
    },
    log: (line) => console.log(line),
  });
  emails = cluster.fixture.clinicians;
  patientIds = cluster.fixture.patientIds;
  await openInspection({ ...cluster.inspectConfig, databaseUrl: cluster.ownerUrl });
});

afterAll(async () => {
  await closeDb?.();
  await cluster?.cleanup();
  await new Promise<void>((resolve) => webhook.close(() => resolve()));
});

describe('two instances behind HAProxy', () => {
  it('signs in through the balancer, and one session’s requests land on both instances', async () => {
    const browser = new SessionBrowser(cluster.baseUrl);
    await browser.signIn(emails[nurse.action]!, DEMO_PASSWORD);
    for (let i = 0; i < 4; i++) {
      const page = await browser.get('/patients');
      expect(page.status).toBe(200);
      expect(page.text).toContain('My patients');
    }
    expect(new Set(browser.answeredBy)).toEqual(new Set(['vigil-a', 'vigil-b']));
  });

  it('accepts on one instance the server action the other rendered', async () => {
    const browser = new SessionBrowser(cluster.baseUrl);
    await browser.signIn(emails[nurse.action]!, DEMO_PASSWORD);
    const patientId = caseloadOf(nurse.action)[0]!;
    const before = await db.select({ id: vitals.id }).from(vitals).where(eq(vitals.patientId, patientId));
    const chart = await browser.get(`/patients/${patientId}`, a());
    expect(chart.instance).toBe('vigil-a');
    const reply = await browser.submit(`/patients/${patientId}`, chart.text, 'data-testid="vitals-form"', { heartRate: '72', systolic: '121', diastolic: '79', temperatureC: '36.9', respiratoryRate: '14', spo2: '98' }, b());
    expect(reply.instance).toBe('vigil-b');
    expect(reply.status).toBe(200);
    expect(reply.text).toContain('Saved.');
    const after = await db.select({ id: vitals.id }).from(vitals).where(eq(vitals.patientId, patientId));
    expect(after.length).toBe(before.length + 1);
  });

  it('ends a session signed out on one instance on the other at once', async () => {
    const browser = new SessionBrowser(cluster.baseUrl);
    await browser.signIn(emails[nurse.action]!, DEMO_PASSWORD);
    const otherTab = browser.copy();
    const page = await browser.get('/patients', a());
    const signedOut = await browser.submit('/patients', page.text, 'Sign out', {}, a());
    expect(redirectsToLogin(signedOut)).toBe(true);
    // The old cookie, replayed at the other instance, is a session that no longer exists.
    const replay = await otherTab.get('/patients', b());
    expect(replay.instance).toBe('vigil-b');
    expect(redirectsToLogin(replay)).toBe(true);
  });

  it('shows a break-glass grant made on one instance, with its banner, on the other', async () => {
    const [physician2] = await db.select({ id: users.id }).from(users).where(eq(users.email, 'physician2@vigil.test'));
    const theirs = (await db.select({ id: careTeam.patientId }).from(careTeam).where(eq(careTeam.userId, physician2!.id))).map((r) => r.id);
    const patientId = patientIds.find((id) => !theirs.includes(id))!;
    const browser = new SessionBrowser(cluster.baseUrl);
    await browser.signIn('physician2@vigil.test', DEMO_PASSWORD);
    const refused = await browser.get(`/patients/${patientId}`, b());
    expect(refused.text).not.toContain('data-testid="break-glass-banner"');
    const form = await browser.get(`/patients/${patientId}/break-glass`, a());
    const granted = await browser.submit(
      `/patients/${patientId}/break-glass`,
      form.text,
      'data-testid="break-glass-form"',
      { reasonCode: 'emergency_treatment', justification: 'Unconscious on arrival in the emergency department; need allergies now.', secret: DEMO_PASSWORD },
      a(),
    );
    expect(granted.instance).toBe('vigil-a');
    expect(granted.status, granted.text.slice(0, 200)).toBeGreaterThanOrEqual(300);
    expect(granted.location).toContain(`/patients/${patientId}`);
    const chart = await browser.get(`/patients/${patientId}`, b());
    expect(chart.instance).toBe('vigil-b');
    expect(chart.status).toBe(200);
    expect(chart.text).toContain('data-testid="break-glass-banner"');
  });

  it('refuses a crypto-shredded patient at once on both instances, cached keys or not', async () => {
    const patientId = caseloadOf(nurse.shred)[0]!;
    const browser = new SessionBrowser(cluster.baseUrl);
    await browser.signIn(emails[nurse.shred]!, DEMO_PASSWORD);
    // Both instances open the chart: each now holds the patient's data key in its cache.
    for (const via of [a(), b()]) expect((await browser.get(`/patients/${patientId}`, via)).text).toContain('data-testid="vitals-form"');
    expect((await shredPatient(db, patientId, { userId: null, ip: null, userAgent: 'vigil cluster test' })).status).toBe('shredded');
    for (const via of [a(), b()]) {
      const chart = await browser.get(`/patients/${patientId}`, via);
      expect(chart.text, via).toContain('erased at the patient’s request');
      expect(chart.text, via).not.toContain('data-testid="vitals-form"');
    }
  });

  it('ends the sessions of a disabled user on both instances', async () => {
    const browser = new SessionBrowser(cluster.baseUrl);
    await browser.signIn(emails[nurse.idle]!, DEMO_PASSWORD);
    for (const via of [a(), b()]) expect((await browser.get('/patients', via)).status).toBe(200);
    const [target] = await db.select({ id: users.id }).from(users).where(eq(users.email, emails[nurse.idle]!));
    const disabled = await setUserDisabled(await asAdmin(), { userId: target!.id, disabled: true, reason: 'leave_of_absence', adminPassword: DEMO_PASSWORD });
    expect(disabled.ok, disabled.ok ? '' : disabled.message).toBe(true);
    for (const via of [a(), b()]) expect(redirectsToLogin(await browser.get('/patients', via)), via).toBe(true);
    await expect(new SessionBrowser(cluster.baseUrl).signIn(emails[nurse.idle]!, DEMO_PASSWORD)).rejects.toThrow(/failed/);
  });

  it('disables an account once for a denial burst split across both instances, and sends each alert once', async () => {
    const email = emails[nurse.burst]!;
    const userId = (await userIdsByEmail(db, [email])).get(email)!;
    const strangers = patientIds.filter((id) => !caseloadOf(nurse.burst).includes(id));
    const browser = new SessionBrowser(cluster.baseUrl);
    await browser.signIn(email, DEMO_PASSWORD);
    const seen = new Set<string>();
    for (let i = 0; i < BURST.critical + 2; i++) {
      const page = await browser.get(`/patients/${strangers[i]!}`);
      if (page.instance) seen.add(page.instance);
    }
    expect(seen, 'the burst was split across both instances').toEqual(new Set(['vigil-a', 'vigil-b']));
    const [user] = await db.select({ disabledAt: users.disabledAt }).from(users).where(eq(users.id, userId));
    expect(user!.disabledAt, 'the account is disabled').not.toBeNull();
    const disables = await db.select({ seq: auditLog.seq }).from(auditLog).where(and(eq(auditLog.actionType, 'user.disable'), eq(auditLog.resourceId, userId)));
    expect(disables.length, 'disabled once').toBe(1);
    const critical = await db.select({ id: incidents.id }).from(incidents).where(and(eq(incidents.userId, userId), eq(incidents.severity, 'CRITICAL')));
    expect(critical.length, 'one CRITICAL case').toBe(1);

    // Both instances run the delivery worker; every alert reaches the webhook exactly once.
    const deadline = Date.now() + 20_000;
    let outbox: Array<{ id: string; deliveredAt: Date | null }> = [];
    while (Date.now() < deadline) {
      outbox = await db.select({ id: alertOutbox.id, deliveredAt: alertOutbox.deliveredAt }).from(alertOutbox);
      if (outbox.length >= 2 && outbox.every((row) => row.deliveredAt)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(outbox.length, 'HIGH and CRITICAL each notify privacy officers').toBeGreaterThanOrEqual(2);
    expect(outbox.filter((row) => !row.deliveredAt)).toEqual([]);
    await new Promise((r) => setTimeout(r, 3_000)); // room for a second delivery, were there one
    const ids = received.map((r) => r.id).sort();
    expect(ids).toEqual(outbox.map((row) => row.id).sort());
  });

  it('times a session out after 15 idle minutes on every instance (the test clock moved on each)', async () => {
    const browser = new SessionBrowser(cluster.baseUrl);
    await browser.signIn(emails[nurse.action]!, DEMO_PASSWORD);
    try {
      await moveClocks({ advanceMs: 14 * 60_000 });
      // Inside the limit on either instance (each request starts the 15 minutes again).
      expect((await browser.get('/patients', b())).status).toBe(200);
      await moveClocks({ advanceMs: 16 * 60_000 });
      expect(redirectsToLogin(await browser.get('/patients', a()))).toBe(true);
      expect(redirectsToLogin(await browser.get('/patients', b()))).toBe(true);
    } finally {
      await moveClocks({ reset: true });
    }
  });

  it('leaves the audit trail verifying, with no gap and no fork, after concurrent writes through both instances', async () => {
    const load = await runLoad({ baseUrl: cluster.baseUrl, clinicians: [emails[nurse.loadA]!, emails[nurse.loadB]!], password: DEMO_PASSWORD, users: 4, seconds: 8, rampSeconds: 1 });
    expect(load.errorMessages).toEqual([]);
    expect(load.operations.find((o) => o.operation === 'vitals write')!.count).toBeGreaterThan(4);
    const trail = await checkTrail(cluster.ownerUrl, keyFileOf(cluster.inspectConfig), cluster.inspectConfig.dataDir);
    console.log(`trail after concurrent writes: ${trail.entries} entries; ${trail.verifyOutput}`);
    expect(trail.verified, trail.verifyOutput).toBe(true);
    expect(trail.gaps).toBe(0);
    expect(trail.forks).toBe(0);
  });
});

describe('PostgreSQL failover under load', () => {
  it('keeps every acknowledged write, leaves nothing partial, verifies, and serves again without a restart', async () => {
    const writers = [emails[nurse.loadA]!, emails[nurse.loadB]!, emails[nurse.action]!];
    const pidsBefore = cluster.instances.map((i) => i.serverPid());
    const since = new Date();
    const report = await failoverUnderLoad({
      baseUrl: cluster.baseUrl,
      database: cluster.database as ReplicatedPostgres,
      clinicians: writers,
      password: DEMO_PASSWORD,
      warmupMs: 4_000,
      recoverMs: 30_000,
      log: (line) => console.log(line),
    });
    const acked = report.attempts.filter((w) => w.acknowledged);
    console.log(
      `failover: ${acked.length} writes acknowledged, ${report.failed} refused; requests failed for ${report.windowSeconds} s after the kill; ` +
        `first acknowledged write ${report.firstSuccessAfterSeconds} s after it`,
    );
    expect(acked.filter((w) => w.startedAt < report.killedAt).length, 'writes before the kill').toBeGreaterThan(0);
    expect(acked.filter((w) => w.startedAt > report.promotedAt).length, 'writes after the promotion').toBeGreaterThan(0);
    const failures = report.attempts.filter((w) => !w.acknowledged);
    expect(failures.filter((w) => w.leaksInternals), 'no refused request shows internals').toEqual([]);
    // A request cut off answers with a plain "try again": a write whose action failed, in its
    // form (lib/platform/database-unavailable.ts); a page whose render failed (the re-render after
    // an action included), with the portal's error page (5xx; in the browser app/(portal)/error.tsx,
    // "Try again in a moment" and a reference). Never a 2xx that pretends, never internals.
    expect(failures.filter((w) => w.status !== null && !w.saysTryAgain && w.status < 500), 'every refused request says to try again or is the error page').toEqual([]);
    // The same processes, never restarted, and both healthy on the new primary.
    expect(cluster.instances.map((i) => i.serverPid())).toEqual(pidsBefore);
    for (const instance of cluster.instances) expect((await fetch(`${instance.baseUrl}/api/health`)).status).toBe(200);

    // Every acknowledged write is on the promoted server, with what was sent.
    const authors = await userIdsByEmail(db, writers);
    const rows = await db
      .select()
      .from(vitals)
      .where(and(inArray(vitals.createdBy, [...authors.values()]), notInArray(vitals.patientId, [caseloadOf(nurse.shred)[0]!])));
    const present = new Set<string>();
    for (const row of rows.filter((r) => r.createdAt >= since)) {
      const body = await storedEntryBody(db, 'vitals', row.id);
      present.add(`${row.createdBy}:${row.patientId}:${String(body?.heartRate)}:${String(body?.systolic)}`);
    }
    const lost = acked.filter((w) => !present.has(`${authors.get(w.email)}:${w.patientId}:${w.reading.heartRate}:${w.reading.systolic}`));
    expect(lost, 'no acknowledged write is lost').toEqual([]);
    const integrity = await vitalsIntegrity(cluster.ownerUrl, [...authors.values()]);
    expect(integrity.unrecorded, 'no record without its audit entry or page').toBe(0);
    expect(integrity.orphanEntries, 'no audit entry without its record').toBe(0);
    const trail = await checkTrail(cluster.ownerUrl, keyFileOf(cluster.inspectConfig), cluster.inspectConfig.dataDir);
    console.log(`trail after the failover: ${trail.entries} entries; ${trail.verifyOutput}`);
    expect(trail.verified, trail.verifyOutput).toBe(true);
    expect(trail.gaps).toBe(0);
    expect(trail.forks).toBe(0);
  });
});
