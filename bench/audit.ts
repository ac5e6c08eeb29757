/**
 * The audit chain's one serialization point, measured: appends per second for one writer and
 * for 8 concurrent writers, and how fast the verifier walks the chain. On a throwaway in-memory
 * PGlite, and also on PostgreSQL when VIGIL_BENCH_DATABASE_URL names a server where a scratch
 * database may be created (as VIGIL_TEST_DATABASE_URL does for the tests).
 *
 * Each append is its own transaction, as in the portal: advisory lock, read the head, HMAC,
 * insert, commit. The monitoring listener is not registered here (bench/monitor.ts prices it).
 * Knobs: VIGIL_BENCH_AUDIT_N (appends per run, default 2,000).
 */
import { pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import type { Db } from '@/db/client';
import { recordAudit, type AuditEvent } from '@/lib/platform/audit';
import { resetChainKey } from '@/lib/platform/audit/chain';
import { verifyChain } from '@/lib/platform/audit/verify';
import { setKeyProvider } from '@/lib/platform/crypto';
import { generateKeyMaterial, StaticKeyProvider } from '@/lib/platform/crypto/key-provider';
import { benchDatabaseKinds, scratchDatabase, type BenchDatabaseKind } from './scratch-database';
import { quantile, round, type BenchResult } from './types';

export interface AppendRate {
  writers: number;
  entries: number;
  perSecond: number;
  medianMs: number;
  p95Ms: number;
  /** This process's CPU per entry: on PGlite (in-process) the whole work, and steadier than wall time on a busy machine. */
  cpuPerEntryMs: number;
}

export interface AuditBenchResult {
  database: BenchDatabaseKind;
  single: AppendRate;
  concurrent: AppendRate;
  verify: { entries: number; ms: number; perSecond: number; cpuPerEntryUs: number };
}

const N = Number(process.env.VIGIL_BENCH_AUDIT_N ?? 2_000);
const WRITERS = 8;

function chartView(i: number): AuditEvent {
  return {
    actor: { userId: randomUUID(), ip: '10.0.0.7', userAgent: 'bench', roles: ['physician'] },
    action: 'chart.view',
    resourceType: 'patient',
    resourceId: randomUUID(),
    patientId: randomUUID(),
    outcome: 'allowed',
    details: { sections: ['demographics', 'allergies', 'medications'], withheld: [], unavailable: [], keyUnwrapped: i % 10 === 0 },
  };
}

async function appendRate(db: Db, writers: number, total: number): Promise<AppendRate> {
  const latencies: number[] = [];
  const perWriter = Math.ceil(total / writers);
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (let i = 0; i < perWriter; i++) {
        const t = performance.now();
        await db.transaction((tx) => recordAudit(tx, chartView(i)));
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return {
    writers,
    entries: perWriter * writers,
    perSecond: Math.round((perWriter * writers) / seconds),
    medianMs: round(quantile(latencies, 0.5), 2),
    p95Ms: round(quantile(latencies, 0.95), 2),
    cpuPerEntryMs: round((used.user + used.system) / 1000 / (perWriter * writers), 3),
  };
}

async function runOn(kind: BenchDatabaseKind): Promise<AuditBenchResult> {
  const handle = await scratchDatabase(kind);
  try {
    await appendRate(handle.db, 1, 50); // warm-up: JIT, connections, plans
    const single = await appendRate(handle.db, 1, N);
    const concurrent = await appendRate(handle.db, WRITERS, N);
    const cpu = process.cpuUsage();
    const walked = await verifyChain({ db: handle.db, pageSize: 1_000 });
    const used = process.cpuUsage(cpu);
    if (!walked.ok) throw new Error(`The benchmark's own chain does not verify: ${walked.break?.detail}`);
    return {
      database: handle.kind,
      single,
      concurrent,
      verify: {
        entries: walked.checked,
        ms: walked.durationMs,
        perSecond: Math.round(walked.checked / (walked.durationMs / 1000)),
        cpuPerEntryUs: round((used.user + used.system) / walked.checked, 1),
      },
    };
  } finally {
    await handle.close();
  }
}

export async function run(): Promise<BenchResult> {
  setKeyProvider(new StaticKeyProvider(generateKeyMaterial()));
  resetChainKey();
  const results: AuditBenchResult[] = [];
  for (const kind of benchDatabaseKinds()) results.push(await runOn(kind));
  print(results);
  return {
    name: 'Audit chain: append rate and verification',
    rows: results.flatMap((r) => [
      ...[r.single, r.concurrent].map((a) => ({
        database: r.database,
        measurement: `append, ${a.writers} writer${a.writers === 1 ? '' : 's'}`,
        'entries/s': a.perSecond,
        'median ms': a.medianMs,
        'p95 ms': a.p95Ms,
        'cpu ms/entry': a.cpuPerEntryMs,
        n: a.entries,
      })),
      { database: r.database, measurement: 'verify walk', 'entries/s': r.verify.perSecond, 'median ms': null, 'p95 ms': null, 'cpu ms/entry': round(r.verify.cpuPerEntryUs / 1000, 4), n: r.verify.entries },
    ]),
    notes: [
      'An append is one transaction, as in the portal: pg_advisory_xact_lock, read the head, HMAC-SHA256, insert, commit. Monitoring is not registered (see the monitor suite).',
      'Latency is per append as its writer saw it, lock wait included; with 8 writers the rate is the chain total.',
      'cpu is this process only: all the work on PGlite (in-process), the client side on PostgreSQL.',
      ...(process.env.VIGIL_BENCH_DATABASE_URL ? [] : ['PostgreSQL not measured: set VIGIL_BENCH_DATABASE_URL.']),
    ],
  };
}

function print(results: AuditBenchResult[]): void {
  console.log('\nAudit chain (append = one transaction: lock, head, HMAC, insert, commit):');
  for (const r of results) {
    for (const a of [r.single, r.concurrent]) {
      console.log(
        `  ${r.database.padEnd(8)} append, ${String(a.writers).padStart(2)} writer${a.writers === 1 ? ' ' : 's'}  ${String(a.perSecond).padStart(6)} entries/s   median ${a.medianMs.toFixed(2)} ms   p95 ${a.p95Ms.toFixed(2)} ms   cpu ${a.cpuPerEntryMs.toFixed(3)} ms/entry   (n=${a.entries})`,
      );
    }
    console.log(`  ${r.database.padEnd(8)} verify walk          ${String(r.verify.perSecond).padStart(6)} entries/s   (${r.verify.entries} entries in ${r.verify.ms} ms, cpu ${r.verify.cpuPerEntryUs} µs/entry)`);
  }
  if (!process.env.VIGIL_BENCH_DATABASE_URL) console.log('  (set VIGIL_BENCH_DATABASE_URL to measure PostgreSQL too)');
}

// `npx tsx --conditions=react-server bench/audit.ts` runs this suite alone.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
