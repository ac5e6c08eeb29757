/**
 * Crash safety, on PGlite and on PostgreSQL: clinicians (the chart's vitals form) and a bedside
 * monitor (the JWE vitals API) write concurrently; every write the portal acknowledged is
 * remembered; the next-server process is killed with SIGKILL while writes are in flight; the
 * portal restarts on the same data. Then: every acknowledged write is there and decrypts to
 * what was sent, the audit chain verifies, and no record is partial (every row written in the
 * run decrypts and has exactly one audit entry, and every audit entry of a write has its row).
 */
import { and, gte, inArray } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { auditLog, vitals } from '@/db/schema';
import { ClinicianClient, DeviceClient, PortalError, type VitalsValues } from '@/bench/load/client';
import { openPortalDatabase, userIdsByEmail } from '@/bench/load/portal';
import { startPortal, type DatabaseKind, type RunningPortal } from '@/bench/load/stack';
import { verifyChain } from '@/lib/platform/audit/verify';
import { storedEntryBody } from '@/test/fixtures';
import { serverTestBuild } from './harness';

const CLINICIANS = 6;
const DEVICES = 3;
/** Kill once this many writes of each kind are acknowledged (or after KILL_AFTER_MS), writers still running. */
const KILL_AT_ACKS = 6;
const KILL_AFTER_MS = 30_000;

/** A clinician's n-th reading, recognisable afterwards: heart rate and systolic encode n. */
const clinicianReading = (n: number): VitalsValues => ({
  heartRate: 30 + (n % 200),
  systolic: 60 + Math.floor(n / 200),
  diastolic: 70,
  temperatureC: 36.8,
  respiratoryRate: 16,
  spo2: 97,
});
const markerOf = (createdBy: string | null, body: { heartRate?: unknown; systolic?: unknown }) => `${createdBy}:${String(body.heartRate)}:${String(body.systolic)}`;

interface Acknowledged {
  clinician: Array<{ email: string; patientId: string; reading: VitalsValues }>;
  device: Array<{ id: string; patientId: string; reading: Record<string, unknown> }>;
}

/**
 * Writers in closed loops until `stop()`; a failure after the kill is expected (the server is
 * gone), one before it is a finding. Returns what was acknowledged.
 */
function startWriters(running: RunningPortal, acked: Acknowledged) {
  const { portal, fixture } = running;
  let stopped = false;
  let killed = false;
  let inFlight = 0;
  const failuresBeforeKill: string[] = [];
  const patientsOf = (i: number) => fixture.patientIds.slice(i, i + 4);

  const guard = async (work: () => Promise<void>) => {
    inFlight++;
    try {
      await work();
    } catch (error) {
      if (!killed) failuresBeforeKill.push(error instanceof Error ? error.message : String(error));
      stopped ||= killed;
    } finally {
      inFlight--;
    }
  };

  const clinician = async (i: number) => {
    const client = new ClinicianClient(portal.baseUrl, 30_000);
    const email = fixture.clinicians[i]!;
    const charts = new Map<string, string>();
    await guard(() => client.signIn(email, fixture.password));
    for (let n = 0; !stopped && client.signedIn && n < 40_000; n++) {
      const patientId = patientsOf(i)[n % 4]!;
      await guard(async () => {
        if (!charts.has(patientId)) charts.set(patientId, await client.openChart(patientId));
        const reading = clinicianReading(n);
        await client.recordVitals(patientId, charts.get(patientId)!, reading);
        acked.clinician.push({ email, patientId, reading });
      });
    }
  };

  const device = async (d: number) => {
    const client = new DeviceClient(portal.baseUrl, fixture.device!);
    for (let n = 0; !stopped && n < 40_000; n++) {
      const patientId = fixture.patientIds[(d * 5 + n) % fixture.patientIds.length]!;
      const reading = { takenAt: new Date().toISOString(), heartRate: 40 + (n % 150), systolic: 110, diastolic: 75, temperatureC: 37.1, respiratoryRate: 15, spo2: 96 };
      await guard(async () => {
        const id = await client.postVitals(patientId, reading, `crash-test-${d}-${n}`);
        acked.device.push({ id, patientId, reading });
      });
    }
  };

  const done = Promise.all([...Array.from({ length: CLINICIANS }, (_, i) => clinician(i)), ...Array.from({ length: DEVICES }, (_, d) => device(d))]);
  return {
    done,
    failuresBeforeKill,
    get inFlight() {
      return inFlight;
    },
    markKilled() {
      killed = true;
    },
    stop() {
      stopped = true;
    },
  };
}

async function crashAndRecover(kind: DatabaseKind, distDir: string) {
  const setupStarted = Date.now();
  const running = await startPortal(kind, distDir, { patients: 30, clinicians: CLINICIANS, caseload: 30, deviceClient: true }, { port: kind === 'pglite' ? 3610 : 3650 });
  const log = [`${kind}: fixture and portal ready in ${Date.now() - setupStarted} ms`];
  try {
    const startedAt = new Date(Date.now() - 1000);
    const acked: Acknowledged = { clinician: [], device: [] };
    const writers = startWriters(running, acked);
    const t0 = Date.now();
    const enough = () => acked.clinician.length >= KILL_AT_ACKS && acked.device.length >= KILL_AT_ACKS;
    while (!enough() && writers.failuresBeforeKill.length === 0 && Date.now() - t0 < KILL_AFTER_MS) await new Promise((r) => setTimeout(r, 20));
    const inFlightAtKill = writers.inFlight;
    writers.markKilled();
    const { pid, title } = await running.portal.kill9();
    const ackedAtKill = acked.clinician.length + acked.device.length;
    writers.stop();
    await writers.done;
    log.push(`${kind}: kill -9 of pid ${pid} ("${title}") after ${Date.now() - t0} ms with ${inFlightAtKill} requests in flight; ${ackedAtKill} writes acknowledged before it`);
    expect(writers.failuresBeforeKill, 'no write may fail before the crash').toEqual([]);
    expect(ackedAtKill, 'writes were acknowledged before the kill').toBeGreaterThan(0);
    expect(inFlightAtKill, 'the kill happened in the middle of writes').toBeGreaterThan(0);
    expect(title, 'the process killed is the Next server itself').toMatch(/^next-server/);

    // Restart on the same data: PGlite must reopen its directory, PostgreSQL must have rolled back.
    const restartStarted = Date.now();
    await running.portal.start();
    log.push(`${kind}: restarted and healthy in ${Date.now() - restartStarted} ms`);
    // The portal writes again after recovery (and these count as acknowledged too).
    const client = new ClinicianClient(running.portal.baseUrl);
    await client.signIn(running.fixture.clinicians[0]!, running.fixture.password);
    const patientId = running.fixture.patientIds[0]!;
    const reading = clinicianReading(39_999);
    await client.recordVitals(patientId, await client.openChart(patientId), reading);
    acked.clinician.push({ email: running.fixture.clinicians[0]!, patientId, reading });
    const after = new DeviceClient(running.portal.baseUrl, running.fixture.device!);
    const deviceReading = { takenAt: new Date().toISOString(), heartRate: 199, systolic: 111, diastolic: 71, temperatureC: 36.9, respiratoryRate: 13, spo2: 99 };
    acked.device.push({ id: await after.postVitals(patientId, deviceReading, 'crash-test-after'), patientId, reading: deviceReading });
    await running.portal.stop();
    log.push(`${kind}: writes after the restart acknowledged; portal stopped ${Date.now() - restartStarted} ms after the restart began`);

    const verifyStarted = Date.now();
    await verifyDatabase(running, startedAt, acked, log);
    log.push(`${kind}: verified in ${Date.now() - verifyStarted} ms`);
  } catch (error) {
    if (!(error instanceof PortalError)) console.log(running.portal.outputTail());
    throw error;
  } finally {
    console.log(log.join('\n'));
    await running.cleanup();
  }
}

async function verifyDatabase(running: RunningPortal, startedAt: Date, acked: Acknowledged, log: string[]) {
  const handle = await openPortalDatabase(running.inspectConfig);
  try {
    const db = handle.db;
    const chain = await verifyChain({ db });
    expect(chain.break, 'the audit chain verifies after the crash').toBeNull();
    expect(chain.ok).toBe(true);

    // Every vitals row written during the run (the seed's are older) decrypts.
    const rows = await db.select().from(vitals).where(gte(vitals.createdAt, startedAt));
    const bodies = new Map<string, Record<string, unknown>>();
    const undecryptable: string[] = [];
    for (const row of rows) {
      try {
        const body = await storedEntryBody(db, 'vitals', row.id);
        if (body) bodies.set(row.id, body);
        else undecryptable.push(row.id);
      } catch {
        undecryptable.push(row.id);
      }
    }
    expect(undecryptable, 'every row written in the run decrypts').toEqual([]);

    // Exactly one allowed audit entry per row, and no audit entry of a write without its row.
    const writes = await db
      .select()
      .from(auditLog)
      .where(and(inArray(auditLog.actionType, ['vitals.create', 'vitals.device_create']), inArray(auditLog.outcome, ['allowed'])));
    const audited = new Map<string, number>();
    for (const entry of writes) audited.set(entry.resourceId!, (audited.get(entry.resourceId!) ?? 0) + 1);
    expect(rows.filter((r) => audited.get(r.id) !== 1).map((r) => r.id), 'every row has exactly one audit entry').toEqual([]);
    const rowIds = new Set(rows.map((r) => r.id));
    expect(writes.filter((w) => w.occurredAt >= startedAt && !rowIds.has(w.resourceId!)).map((w) => w.seq), 'no audit entry of a write without its row').toEqual([]);

    // Every acknowledged write is present with what was sent.
    const userIds = await userIdsByEmail(db, running.fixture.clinicians);
    const present = new Set(rows.map((r) => markerOf(r.createdBy, bodies.get(r.id) ?? {})));
    const lostClinician = acked.clinician.filter((w) => !present.has(markerOf(userIds.get(w.email)!, w.reading)));
    const lostDevice = acked.device.filter((w) => {
      const body = bodies.get(w.id);
      return !body || rows.find((r) => r.id === w.id)?.patientId !== w.patientId || body.heartRate !== w.reading.heartRate || body.takenAt !== w.reading.takenAt;
    });
    const acknowledged = acked.clinician.length + acked.device.length;
    const lost = lostClinician.length + lostDevice.length;
    log.push(
      `${running.kind}: ${rows.length} rows written in the run, ${acknowledged} acknowledged (${acked.clinician.length} clinician, ${acked.device.length} device), ` +
        `${rows.length - (acknowledged - lost)} committed without an answer (cut off by the kill), lost: ${lost}; audit chain ${chain.checked} entries OK`,
    );
    expect(lostClinician, 'no acknowledged clinician write is lost').toEqual([]);
    expect(lostDevice, 'no acknowledged device write is lost').toEqual([]);
    expect(rows.length).toBeGreaterThanOrEqual(acknowledged);
  } finally {
    await handle.close();
  }
}

describe('kill -9 of the portal in the middle of writes', () => {
  let distDir: string;
  beforeAll(() => {
    distDir = serverTestBuild();
  });

  it('PGlite: reopens, loses no acknowledged write, the chain verifies, no partial record', () => crashAndRecover('pglite', distDir));
  it('PostgreSQL: loses no acknowledged write, the chain verifies, no partial record', () => crashAndRecover('postgres', distDir));
});
