/**
 * Cost of access monitoring per audited PHI access (lib/monitor), on a throwaway database:
 * in-memory PGlite, or PostgreSQL when VIGIL_TEST_DATABASE_URL is set (as in the tests).
 *
 * - audited access without monitoring: a transaction appending one chart.view entry;
 * - the listener alone, in that transaction (counter upsert + rules, profile cached);
 * - the listener on the first access of a user in an hour (profile loaded from the counters);
 * - audited access with monitoring registered: the same transaction, listener included;
 * - containment: the transaction of the access that crosses the volume threshold (case,
 *   disable, session revocation, notices, two more audit entries), and the check that the
 *   user's very next request is refused.
 */
import { pathToFileURL } from 'node:url';
import { eq } from 'drizzle-orm';
import type { Db } from '@/db/client';
import { careTeam, users } from '@/db/schema';
import { seedDatabase } from '@/db/seed';
import { onAudit, recordAudit, type AuditEvent } from '@/lib/audit';
import { checkSession, createSession } from '@/lib/auth/sessions';
import { setKeyProvider } from '@/lib/crypto';
import { generateKeyMaterial, StaticKeyProvider } from '@/lib/crypto/key-provider';
import { forgetMonitorConfig, saveMonitorConfig } from '@/lib/monitor/config';
import { monitorAccess } from '@/lib/monitor/listener';
import { forgetProfiles } from '@/lib/monitor/profile';
import { createTestDatabase } from '@/test/db';

export interface Measurement {
  name: string;
  n: number;
  medianMs: number;
  p95Ms: number;
  /** Median process CPU time per sample: PGlite runs in-process, so this is the work itself, less noisy than wall time on a busy machine. */
  cpuMedianMs: number;
}

interface Sample {
  wallMs: number;
  cpuMs: number;
}

export interface MonitorBenchResult {
  database: string;
  measurements: Measurement[];
  /** Median added per audited access by monitoring (with − without), in ms of wall time and of CPU time. */
  addedMedianMs: number;
  addedCpuMedianMs: number;
  containment: { transactionMs: number; nextRequestRefused: boolean };
}

const N = Number(process.env.VIGIL_BENCH_MONITOR_N ?? 1_000);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function summarise(name: string, samples: Sample[]): Measurement {
  const wall = samples.map((s) => s.wallMs);
  return {
    name,
    n: samples.length,
    medianMs: round(percentile(wall, 0.5)),
    p95Ms: round(percentile(wall, 0.95)),
    cpuMedianMs: round(percentile(samples.map((s) => s.cpuMs), 0.5)),
  };
}
const round = (ms: number) => Math.round(ms * 1000) / 1000;

async function userIdOf(db: Db, email: string): Promise<string> {
  const [user] = await db.select({ id: users.id }).from(users).where(eq(users.email, email)).limit(1);
  return user!.id;
}

export async function run(): Promise<MonitorBenchResult> {
  setKeyProvider(new StaticKeyProvider(generateKeyMaterial()));
  const handle = await createTestDatabase();
  const db = handle.db;
  try {
    await seedDatabase(db, { patients: 20 });
    const staff = await userIdOf(db, 'staff01@vigil.test');
    const [patient] = await db.select({ patientId: careTeam.patientId }).from(careTeam).where(eq(careTeam.userId, staff)).limit(1);
    const event = (userId: string): AuditEvent => ({
      actor: { userId, ip: '127.0.0.1', userAgent: 'bench' },
      action: 'chart.view',
      resourceType: 'patient',
      resourceId: patient!.patientId,
      patientId: patient!.patientId,
      outcome: 'allowed',
      details: { sections: ['demographics', 'allergies'] },
    });
    // Steady state: no rule fires, so every sample is the common path.
    await saveMonitorConfig(db, { volumeFloor: 100_000 }, null);

    const timed = async (work: () => Promise<unknown>): Promise<Sample> => {
      const cpu = process.cpuUsage();
      const started = performance.now();
      await work();
      const used = process.cpuUsage(cpu);
      return { wallMs: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
    };
    const samples = async (n: number, work: () => Promise<Sample>) => {
      for (let i = 0; i < Math.min(50, n); i++) await work(); // warm-up
      const out: Sample[] = [];
      for (let i = 0; i < n; i++) out.push(await work());
      return out;
    };

    const without = await samples(N, () => timed(() => db.transaction((tx) => recordAudit(tx, event(staff)))));
    const listenerAlone = await samples(N, () =>
      db.transaction(async (tx) => {
        const record = await recordAudit(tx, event(staff));
        return timed(() => monitorAccess(tx, event(staff), record));
      }),
    );
    const coldProfile = await samples(Math.min(N, 300), () =>
      db.transaction(async (tx) => {
        const record = await recordAudit(tx, event(staff));
        forgetProfiles();
        return timed(() => monitorAccess(tx, event(staff), record));
      }),
    );
    onAudit(monitorAccess);
    const withMonitoring = await samples(N, () => timed(() => db.transaction((tx) => recordAudit(tx, event(staff)))));

    // Containment: defaults again; a physician with no history crosses max(30, 3 × 15) = 45.
    await saveMonitorConfig(db, {}, null);
    forgetMonitorConfig();
    forgetProfiles();
    const target = await userIdOf(db, 'staff02@vigil.test');
    const session = await createSession(db, target, { ip: null, userAgent: 'bench' });
    for (let i = 0; i < 45; i++) await db.transaction((tx) => recordAudit(tx, event(target)));
    const { wallMs: transactionMs } = await timed(() => db.transaction((tx) => recordAudit(tx, event(target))));
    const nextRequestRefused = !(await checkSession(db, session.id)).valid;

    const measurements = [
      summarise('audited access, no monitoring', without),
      summarise('listener alone (profile cached)', listenerAlone),
      summarise('listener alone (first access in the hour)', coldProfile),
      summarise('audited access, with monitoring', withMonitoring),
    ];
    const result: MonitorBenchResult = {
      database: handle.kind,
      measurements,
      addedMedianMs: round(measurements[3]!.medianMs - measurements[0]!.medianMs),
      addedCpuMedianMs: round(measurements[3]!.cpuMedianMs - measurements[0]!.cpuMedianMs),
      containment: { transactionMs: round(transactionMs), nextRequestRefused },
    };
    print(result);
    return result;
  } finally {
    await handle.close();
  }
}

function print(result: MonitorBenchResult): void {
  console.log(`\nAccess monitoring (${result.database}), per audited access:`);
  for (const m of result.measurements) {
    console.log(`  ${m.name.padEnd(44)} median ${m.medianMs.toFixed(3)} ms (cpu ${m.cpuMedianMs.toFixed(3)} ms)   p95 ${m.p95Ms.toFixed(3)} ms   (n=${m.n})`);
  }
  console.log(`  added by monitoring (median, with − without)   ${result.addedMedianMs.toFixed(3)} ms (cpu ${result.addedCpuMedianMs.toFixed(3)} ms)`);
  console.log(
    `  containment: crossing access's transaction ${result.containment.transactionMs.toFixed(1)} ms; next request refused: ${result.containment.nextRequestRefused ? 'yes' : 'NO'}`,
  );
}

// `npx tsx --conditions=react-server bench/monitor.ts` runs this suite alone.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
