/**
 * Cost of access monitoring per audited PHI access (lib/features/monitor), on a throwaway in-memory
 * PGlite, and also on PostgreSQL when VIGIL_BENCH_DATABASE_URL names a server where a scratch
 * database may be created.
 *
 * - audited access without monitoring: one transaction appending a chart.view entry;
 * - for scale, a transaction running one trivial statement (the listener's common path is one
 *   upsert, so on a busy machine compare it with this rather than with a fixed number);
 * - the listener alone inside that transaction (counter upsert + rules; profile cached);
 * - the listener on a user's first access in an hour (profile loaded from the counters);
 * - audited access with monitoring on: the same transaction, listener included;
 * - containment: the transaction of the access that crosses the volume threshold (case,
 *   disable, session revocation, notices, two more audit entries), and whether the user's
 *   very next request is refused.
 * Knobs: VIGIL_BENCH_MONITOR_N (samples per measurement, default 1,000).
 */
import { pathToFileURL } from 'node:url';
import { eq, sql } from 'drizzle-orm';
import type { Db } from '@/db/client';
import { careTeam, users } from '@/db/schema';
import { seedDatabase } from '@/db/seed';
import { onAudit, recordAudit, type AuditEvent } from '@/lib/platform/audit';
import { resetChainKey } from '@/lib/platform/audit/chain';
import { checkSession, createSession } from '@/lib/features/credentials/sessions';
import { setKeyProvider } from '@/lib/platform/crypto';
import { generateKeyMaterial, StaticKeyProvider } from '@/lib/platform/crypto/key-provider';
import { saveMonitorConfig } from '@/lib/features/monitor/config';
import { monitorAccess } from '@/lib/features/monitor/listener';
import { forgetProfiles } from '@/lib/features/monitor/profile';
import { benchDatabaseKinds, scratchDatabase } from './scratch-database';
import { quantile, round, timed, type BenchResult, type BenchRow, type Sample } from './types';

const N = Number(process.env.VIGIL_BENCH_MONITOR_N ?? 1_000);
const TARGET_MS = 1;

/** Listeners cannot be removed: one switchable registration serves the with/without runs. */
let monitoring = false;
onAudit((tx, event, record) => (monitoring ? monitorAccess(tx, event, record) : Promise.resolve()));

async function userIdOf(db: Db, email: string): Promise<string> {
  const [user] = await db.select({ id: users.id }).from(users).where(eq(users.email, email)).limit(1);
  return user!.id;
}

async function samples(n: number, work: () => Promise<Sample>): Promise<Sample[]> {
  for (let i = 0; i < Math.min(50, n); i++) await work(); // warm-up: JIT, plans, caches
  const out: Sample[] = [];
  for (let i = 0; i < n; i++) out.push(await work());
  return out;
}

function row(database: string, measurement: string, taken: Sample[]): BenchRow {
  return {
    database,
    measurement,
    n: taken.length,
    medianMs: round(quantile(taken.map((s) => s.wallMs), 0.5)),
    p95Ms: round(quantile(taken.map((s) => s.wallMs), 0.95)),
    cpuMedianMs: round(quantile(taken.map((s) => s.cpuMs), 0.5)),
  };
}

async function runOn(kind: 'pglite' | 'postgres'): Promise<{ rows: BenchRow[]; notes: string[] }> {
  const handle = await scratchDatabase(kind);
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
    const audited = (userId: string) => timed(() => db.transaction((tx) => recordAudit(tx, event(userId))));
    // The common path: no rule fires, so every sample costs what a normal access costs.
    await saveMonitorConfig(db, { volumeFloor: 100_000 }, null);

    // Calibration: one trivial statement in a transaction, the unit the listener's one upsert is made of.
    const trivial = await samples(N, () => timed(() => db.transaction((tx) => tx.execute(sql`SELECT 1`))));
    // With and without monitoring interleaved sample by sample, so drifting machine load hits both alike.
    const without: Sample[] = [];
    const withMonitoring: Sample[] = [];
    await samples(N, async () => {
      monitoring = false;
      without.push(await audited(staff));
      monitoring = true;
      const sample = await audited(staff);
      withMonitoring.push(sample);
      monitoring = false;
      return sample;
    });
    without.splice(0, without.length - N);
    withMonitoring.splice(0, withMonitoring.length - N);
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

    // Containment with the default rules: a physician with no history crosses max(30, 3 × 25) = 75.
    await saveMonitorConfig(db, {}, null);
    forgetProfiles();
    monitoring = true;
    const target = await userIdOf(db, 'staff02@vigil.test');
    const session = await createSession(db, target, { ip: null, userAgent: 'bench' });
    for (let i = 0; i < 75; i++) await audited(target);
    const crossing = await audited(target);
    const refused = !(await checkSession(db, session.id)).valid;
    monitoring = false;

    const rows = [
      row(kind, 'audited access, monitoring off', without),
      row(kind, 'reference: transaction with SELECT 1', trivial),
      row(kind, 'listener alone, profile cached', listenerAlone),
      row(kind, 'listener alone, first access of the hour', coldProfile),
      row(kind, 'audited access, monitoring on', withMonitoring),
    ];
    // Median of the paired differences (each "on" sample minus the "off" sample taken just before it).
    const added = (metric: 'wallMs' | 'cpuMs') => round(quantile(withMonitoring.map((s, i) => s[metric] - without[i]![metric]), 0.5));
    const alone = Number(rows[2]!.medianMs);
    return {
      rows,
      notes: [
        `${kind}: monitoring adds ${added('wallMs')} ms wall time per audited access (${added('cpuMs')} ms CPU; median of paired samples); the listener alone takes ${alone} ms median wall, ${rows[2]!.cpuMedianMs} ms CPU (a SELECT 1 transaction: ${rows[1]!.medianMs} ms) — target < ${TARGET_MS} ms: ${alone < TARGET_MS ? 'met' : 'MISSED'}.`,
        `${kind}: containment — the transaction of the access that crossed the threshold took ${round(crossing.wallMs, 1)} ms (case, disable, revoke, notify, two audit entries); the next request was ${refused ? 'refused' : 'NOT refused'}.`,
      ],
    };
  } finally {
    monitoring = false;
    await handle.close();
  }
}

export async function run(): Promise<BenchResult> {
  setKeyProvider(new StaticKeyProvider(generateKeyMaterial()));
  resetChainKey();
  const kinds = benchDatabaseKinds();
  const result: BenchResult = { name: 'Access monitoring, per audited PHI access', rows: [], notes: [] };
  for (const kind of kinds) {
    const { rows, notes } = await runOn(kind);
    result.rows.push(...rows);
    result.notes!.push(...notes);
  }
  if (!process.env.VIGIL_BENCH_DATABASE_URL) result.notes!.push('Set VIGIL_BENCH_DATABASE_URL to measure PostgreSQL too.');
  print(result);
  return result;
}

function print(result: BenchResult): void {
  console.log(`\n${result.name}:`);
  for (const r of result.rows) {
    console.log(
      `  ${String(r.database).padEnd(8)} ${String(r.measurement).padEnd(42)} median ${Number(r.medianMs).toFixed(3)} ms (cpu ${Number(r.cpuMedianMs).toFixed(3)})   p95 ${Number(r.p95Ms).toFixed(3)} ms   (n=${r.n})`,
    );
  }
  for (const note of result.notes ?? []) console.log(`  ${note}`);
}

// `npx tsx --conditions=react-server bench/monitor.ts` runs this suite alone.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
