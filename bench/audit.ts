/**
 * The audit trail's throughput, measured: appends per second for 1, 8 and 16 concurrent writers,
 * for the design the portal runs (AUDIT_CHAINS chains, a writer takes a free one) and, side by
 * side in the same run, the earlier design (one chain, so one lock held by every appending
 * transaction to its commit); and how fast the verifier walks the trail. On a throwaway
 * in-memory PGlite, and also on PostgreSQL when VIGIL_BENCH_DATABASE_URL names a server where a
 * scratch database may be created (as VIGIL_TEST_DATABASE_URL does for the tests). The report
 * says whether that server has fsync and synchronous_commit on: the append target counts only so.
 * The targets are for PostgreSQL; PGlite (one in-process connection, so its transactions take
 * turns whatever the design) is reported, not judged.
 *
 * Each append is its own transaction, as in the portal: claim a chain and read its head, HMAC,
 * insert, commit. The monitoring listener is not registered here (bench/monitor.ts prices it).
 * The verifier walks a trail topped up to VIGIL_BENCH_AUDIT_VERIFY_N entries (default 50,000 on
 * PostgreSQL, 20,000 on PGlite), appended through appendEntry in long transactions, one chain
 * each, so the walk is long enough to time.
 * Knobs: VIGIL_BENCH_AUDIT_N (appends per run, default 2,000), VIGIL_BENCH_AUDIT_VERIFY_N.
 */
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { openDatabase, rowsOf, type Db } from '@/db/client';
import type { AuditEvent } from '@/lib/platform/audit';
import { appendEntry, AUDIT_CHAINS } from '@/lib/platform/audit/append';
import { resetChainKey } from '@/lib/platform/audit/chain';
import { verifyChain } from '@/lib/platform/audit/verify';
import { setKeyProvider } from '@/lib/platform/crypto';
import { generateKeyMaterial, StaticKeyProvider } from '@/lib/platform/crypto/key-provider';
import { benchDatabaseKinds, scratchDatabase, type BenchDatabaseKind } from './scratch-database';
import { serverCpu } from './server-cpu';
import { quantile, round, type BenchResult, type BenchRow } from './types';

export interface AppendRate {
  design: Design;
  writers: number;
  entries: number;
  perSecond: number;
  medianMs: number;
  p95Ms: number;
  /** This process's CPU per entry: on PGlite (in-process) the whole work, and steadier than wall time on a busy machine. */
  cpuPerEntryMs: number;
  /** The PostgreSQL server's CPU per entry, when it runs on this machine (null otherwise, and on PGlite). */
  serverCpuPerEntryMs: number | null;
}

type Design = 'chains' | 'one chain';
const DESIGNS: Record<Design, number> = { chains: AUDIT_CHAINS, 'one chain': 1 };

export interface AuditBenchResult {
  database: BenchDatabaseKind;
  /** PostgreSQL's durability settings as the server reported them (null on PGlite). */
  durability: { fsync: string; synchronousCommit: string } | null;
  appends: AppendRate[];
  verify: { entries: number; chains: number; ms: number; perSecond: number; cpuPerEntryUs: number; serverCpuPerEntryUs: number | null };
}

const N = Number(process.env.VIGIL_BENCH_AUDIT_N ?? 2_000);
const VERIFY_N: Record<BenchDatabaseKind, number> = {
  postgres: Number(process.env.VIGIL_BENCH_AUDIT_VERIFY_N ?? 50_000),
  pglite: Number(process.env.VIGIL_BENCH_AUDIT_VERIFY_N ?? 20_000),
};
const WRITERS = [1, 8, 16];
const TARGETS = { appendsAt16: 5_000, verifyPerSecond: 200_000 };

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

/** Reads the CPU seconds the database server has used so far; null when it cannot be read. */
type ServerClock = (() => number) | undefined;

async function appendRate(db: Db, server: ServerClock, design: Design, writers: number, total: number): Promise<AppendRate> {
  const latencies: number[] = [];
  const perWriter = Math.ceil(total / writers);
  const cpu = process.cpuUsage();
  const serverStart = server?.();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (let i = 0; i < perWriter; i++) {
        const t = performance.now();
        await db.transaction((tx) => appendEntry(tx, chartView(i), { chains: DESIGNS[design] }));
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const serverSeconds = server && serverStart !== undefined ? server() - serverStart : null;
  return {
    design,
    writers,
    entries: perWriter * writers,
    perSecond: Math.round((perWriter * writers) / seconds),
    medianMs: round(quantile(latencies, 0.5), 2),
    p95Ms: round(quantile(latencies, 0.95), 2),
    cpuPerEntryMs: round((used.user + used.system) / 1000 / (perWriter * writers), 3),
    serverCpuPerEntryMs: serverSeconds === null ? null : round((serverSeconds * 1000) / (perWriter * writers), 3),
  };
}

/**
 * Tops the trail up to `entries` for the verifier: genuine appends, each writer one long
 * transaction on a chain of its own (no commit per entry, so it is quick).
 */
async function fillTrail(db: Db, entries: number): Promise<void> {
  const [row] = rowsOf<{ n: string | number }>(await db.execute(sql`SELECT count(*) AS n FROM audit_log`));
  const missing = entries - Number(row!.n);
  if (missing <= 0) return;
  const writers = 16;
  const perWriter = Math.ceil(missing / writers);
  await Promise.all(
    Array.from({ length: writers }, (_, chain) =>
      db.transaction(async (tx) => {
        for (let i = 0; i < perWriter; i++) await appendEntry(tx, chartView(i), { chains: AUDIT_CHAINS, startAt: chain });
      }),
    ),
  );
}

async function durabilityOf(db: Db): Promise<AuditBenchResult['durability']> {
  const [row] = rowsOf<{ fsync: string; sc: string }>(await db.execute(sql`SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sc`));
  return { fsync: row!.fsync, synchronousCommit: row!.sc };
}

async function runOn(kind: BenchDatabaseKind): Promise<AuditBenchResult> {
  const handle = await scratchDatabase(kind);
  // 16 writers need 16 connections (the test pool has 10): a pool of the size the run needs.
  const wide = kind === 'postgres' ? await openDatabase({ url: handle.url!, max: Math.max(...WRITERS) + 2 }) : null;
  const db = wide?.db ?? handle.db;
  const server = kind === 'postgres' ? await serverCpu(handle) : undefined;
  try {
    await appendRate(db, server, 'chains', 1, 50); // warm-up: JIT, connections, plans
    await appendRate(db, server, 'chains', 16, 64);
    const appends: AppendRate[] = [];
    // The designs alternate at each writer count, so drifting machine load hits both alike.
    for (const writers of WRITERS) for (const design of Object.keys(DESIGNS) as Design[]) appends.push(await appendRate(db, server, design, writers, N));
    await fillTrail(db, VERIFY_N[kind]);
    const cpu = process.cpuUsage();
    const serverStart = server?.();
    const walked = await verifyChain({ db });
    const used = process.cpuUsage(cpu);
    const serverSeconds = server && serverStart !== undefined ? server() - serverStart : null;
    if (!walked.ok) throw new Error(`The benchmark's own trail does not verify: ${walked.break?.detail}`);
    return {
      database: handle.kind,
      durability: kind === 'postgres' ? await durabilityOf(db) : null,
      appends,
      verify: {
        entries: walked.checked,
        chains: walked.heads.length,
        ms: walked.durationMs,
        perSecond: Math.round(walked.checked / (walked.durationMs / 1000)),
        cpuPerEntryUs: round((used.user + used.system) / walked.checked, 1),
        serverCpuPerEntryUs: serverSeconds === null ? null : round((serverSeconds * 1e6) / walked.checked, 1),
      },
    };
  } finally {
    await wide?.close();
    await handle.close();
  }
}

const rateOf = (r: AuditBenchResult, design: Design, writers: number) => r.appends.find((a) => a.design === design && a.writers === writers)!;
const verdict = (met: boolean) => (met ? 'met' : 'MISSED');
const loadNow = () => os.loadavg().map((l) => l.toFixed(2)).join(' / ');

/** The targets are PostgreSQL's: PGlite's rows say what it measured and are not judged. */
function targetRows(results: AuditBenchResult[]): BenchRow[] {
  return results.flatMap((r) => {
    const judged = r.database === 'postgres';
    const durable = r.durability ? r.durability.fsync === 'on' && r.durability.synchronousCommit === 'on' : null;
    const at16 = rateOf(r, 'chains', 16).perSecond;
    const result = (met: boolean) => (judged ? verdict(met) : 'reported only (the targets are for PostgreSQL)');
    return [
      {
        database: r.database,
        target: `append, 16 writers ≥ ${TARGETS.appendsAt16.toLocaleString('en')} entries/s${judged ? ' (fsync and synchronous_commit on)' : ''}`,
        measured: at16,
        result: judged && !durable ? 'not measured durably' : result(at16 >= TARGETS.appendsAt16),
      },
      { database: r.database, target: `verify ≥ ${TARGETS.verifyPerSecond.toLocaleString('en')} entries/s`, measured: r.verify.perSecond, result: result(r.verify.perSecond >= TARGETS.verifyPerSecond) },
    ];
  });
}

export async function run(): Promise<BenchResult> {
  setKeyProvider(new StaticKeyProvider(generateKeyMaterial()));
  resetChainKey();
  const loadBefore = loadNow();
  const results: AuditBenchResult[] = [];
  for (const kind of benchDatabaseKinds()) results.push(await runOn(kind));
  const loadAfter = loadNow();
  print(results, loadBefore, loadAfter);
  return {
    name: 'Audit trail: append rate and verification',
    rows: results.flatMap((r) => [
      ...r.appends.map((a) => ({
        database: r.database,
        design: a.design === 'chains' ? `${AUDIT_CHAINS} chains (now)` : 'one chain (before)',
        measurement: `append, ${a.writers} writer${a.writers === 1 ? '' : 's'}`,
        'entries/s': a.perSecond,
        'median ms': a.medianMs,
        'p95 ms': a.p95Ms,
        'cpu ms/entry': a.cpuPerEntryMs,
        'server cpu ms/entry': a.serverCpuPerEntryMs,
        n: a.entries,
      })),
      {
        database: r.database,
        design: `${r.verify.chains} chains walked`,
        measurement: 'verify walk',
        'entries/s': r.verify.perSecond,
        'median ms': null,
        'p95 ms': null,
        'cpu ms/entry': round(r.verify.cpuPerEntryUs / 1000, 4),
        'server cpu ms/entry': r.verify.serverCpuPerEntryUs === null ? null : round(r.verify.serverCpuPerEntryUs / 1000, 4),
        n: r.verify.entries,
      },
    ]),
    tables: [{ title: 'Targets', rows: targetRows(results) }],
    notes: [
      `Machine: ${os.cpus().length} CPUs; load average (1 / 5 / 15 min) ${loadBefore} at the start, ${loadAfter} at the end.`,
      ...results.flatMap((r) =>
        r.durability ? [`PostgreSQL durability: fsync ${r.durability.fsync}, synchronous_commit ${r.durability.synchronousCommit}.`] : [],
      ),
      ...results.map((r) => {
        const ratio = (w: number) => round(rateOf(r, 'chains', w).perSecond / rateOf(r, 'one chain', w).perSecond, 2);
        return `${r.database}: chains vs one chain, entries/s ratio ${WRITERS.map((w) => `${ratio(w)}x at ${w}`).join(', ')}.`;
      }),
      'An append is one transaction, as in the portal: vigil_audit_claim_chain (lock a free chain, read its head), HMAC-SHA256, insert, commit: four statements (BEGIN, claim, INSERT, COMMIT), the claim and the INSERT prepared once per connection. Monitoring is not registered (see the monitor suite).',
      'The targets (16 writers ≥ 5,000 entries/s with fsync and synchronous_commit on; verify ≥ 200,000 entries/s) are for PostgreSQL. PGlite is one in-process connection (its transactions take turns, and its CPU is this process\'s): reported, not judged.',
      `The verifier walks the trail topped up to ${VERIFY_N.postgres.toLocaleString('en')} entries on PostgreSQL and ${VERIFY_N.pglite.toLocaleString('en')} on PGlite (genuine appends, one long transaction per chain).`,
      '"one chain (before)" is the earlier design, reachable only from here (appendEntry with chains: 1): every appending transaction holds the one lock to its commit.',
      'Latency is per append as its writer saw it, lock wait included; the rate is the total over all writers.',
      'cpu is this process only: all the work on PGlite (in-process), the client side on PostgreSQL. server cpu is the PostgreSQL server\'s processes over the same time (read from /proc, so only when the server runs on this machine); on a shared machine the two together, per entry, say more than the rate does: 2 cores at full use give at most 2,000 ms / (cpu + server cpu) entries/s.',
      ...(process.env.VIGIL_BENCH_DATABASE_URL ? [] : ['PostgreSQL not measured: set VIGIL_BENCH_DATABASE_URL.']),
    ],
  };
}

function print(results: AuditBenchResult[], loadBefore: string, loadAfter: string): void {
  console.log(`\nAudit trail (append = one transaction: claim a chain, head, HMAC, insert, commit); load ${loadBefore} → ${loadAfter}:`);
  for (const r of results) {
    if (r.durability) console.log(`  ${r.database}: fsync ${r.durability.fsync}, synchronous_commit ${r.durability.synchronousCommit}`);
    for (const a of r.appends) {
      console.log(
        `  ${r.database.padEnd(8)} ${a.design.padEnd(9)} append, ${String(a.writers).padStart(2)} writer${a.writers === 1 ? ' ' : 's'}  ${String(a.perSecond).padStart(6)} entries/s   median ${a.medianMs.toFixed(2)} ms   p95 ${a.p95Ms.toFixed(2)} ms   cpu ${a.cpuPerEntryMs.toFixed(3)} ms/entry${a.serverCpuPerEntryMs === null ? '' : `   server cpu ${a.serverCpuPerEntryMs.toFixed(3)} ms/entry`}   (n=${a.entries})`,
      );
    }
    const serverVerify = r.verify.serverCpuPerEntryUs === null ? '' : `, server cpu ${r.verify.serverCpuPerEntryUs} µs/entry`;
    console.log(`  ${r.database.padEnd(8)} verify walk          ${String(r.verify.perSecond).padStart(7)} entries/s   (${r.verify.entries} entries in ${r.verify.chains} chains, ${r.verify.ms} ms, cpu ${r.verify.cpuPerEntryUs} µs/entry${serverVerify})`);
  }
  for (const row of targetRows(results)) console.log(`  target ${row.database}: ${row.target}: ${row.measured} — ${row.result}`);
  if (!process.env.VIGIL_BENCH_DATABASE_URL) console.log('  (set VIGIL_BENCH_DATABASE_URL to measure PostgreSQL too)');
}

// `npx tsx --conditions=react-server bench/audit.ts` runs this suite alone.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
