/**
 * Sign-in under an anonymous flood (lib/features/auth/login.ts), on a throwaway in-memory PGlite
 * and on PostgreSQL when VIGIL_BENCH_DATABASE_URL is set:
 *
 * - 2,000 attempts (VIGIL_BENCH_FLOOD_N) at locked and unknown accounts from rotating addresses,
 *   64 in flight: attempts per second, argon2 hashes computed (the design says none), audit
 *   entries added once the refusal tally is written (one per source and interval);
 * - wrong-password guesses at real accounts, all at once: the most hashes that ran at the same
 *   time against the cap, and how many were refused as busy instead of queued;
 * - chart views before and during the flood: median and p95, so the flood's cost to the ward is
 *   a number, not a feeling.
 * The short, pass/fail version of the same scenario is lib/features/auth/sign-in-flood.test.ts.
 */
import { pathToFileURL } from 'node:url';
import { and, eq, gt, inArray } from 'drizzle-orm';
import { auditLog, users } from '@/db/schema';
import { auditActions } from '@/lib/domain/audit/actions';
import { flushRefusals, REFUSAL_INTERVAL_MS } from '@/lib/platform/audit';
import { hashPolicy, lockoutPolicy } from '@/lib/features/credentials/config';
import { hashQueueStats, resetHashQueuePeak } from '@/lib/features/credentials/passwords';
import { signInWithPassword } from '@/lib/features/auth/login';
import { getChart } from '@/lib/features/records';
import { saveMonitorConfig } from '@/lib/features/monitor/config';
import { registerMonitoring } from '@/lib/features/monitor/register';
import { auditHead, createStaff, installTestKeys, patientOnTeamOf, viewer } from '@/test/fixtures';
import { seedDatabase } from '@/db/seed';
import { benchDatabaseKinds, scratchDatabase, type BenchDatabaseKind } from './scratch-database';
import { quantile, round, type BenchResult, type BenchRow } from './types';

const N = Number(process.env.VIGIL_BENCH_FLOOD_N ?? 2_000);
const IN_FLIGHT = 64;
const SOURCES = 200;
const GUESSED_ACCOUNTS = 20;
const VIEW_PAUSE_MS = 20;

const address = (i: number) => `198.18.${Math.floor((i % SOURCES) / 250)}.${(i % SOURCES) % 250 + 1}`;

async function inBatches(total: number, work: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < total) await work(next++);
    }),
  );
}

async function runOn(kind: BenchDatabaseKind): Promise<{ rows: BenchRow[]; notes: string[] }> {
  const handle = await scratchDatabase(kind);
  const db = handle.db;
  try {
    await seedDatabase(db, { patients: 20 });
    // The nurse opens hundreds of charts here; the monitor would rightly contain them (bench/monitor.ts prices it).
    await saveMonitorConfig(db, { volumeFloor: 100_000 }, null);
    const locked: string[] = [];
    const guessed: string[] = [];
    for (let i = 0; i < 10; i++) locked.push((await createStaff(db, { roles: ['nurse'], email: `locked-${i}@bench.vigil.test` })).email);
    for (let i = 0; i < GUESSED_ACCOUNTS; i++) guessed.push((await createStaff(db, { roles: ['nurse'], email: `guessed-${i}@bench.vigil.test` })).email);
    await db.update(users).set({ lockedUntil: new Date(Date.now() + 3_600_000) }).where(inArray(users.email, locked));
    const nurse = await viewer(db, 'nurse@vigil.test');
    const patientId = await patientOnTeamOf(db, nurse.userId);
    const chartView = async () => {
      const started = performance.now();
      const chart = await getChart(nurse, patientId);
      if (!chart.ok) throw new Error('the chart view was refused');
      return performance.now() - started;
    };

    const baseline: number[] = [];
    for (let i = 0; i < 30; i++) baseline.push(await chartView());

    // The flood at locked and unknown accounts, with a ward nurse opening the chart throughout.
    await flushRefusals({ all: true });
    const since = await auditHead(db);
    const hashesBefore = hashQueueStats().computed;
    const during: number[] = [];
    let flooding = true;
    const viewing = (async () => {
      while (flooding) {
        during.push(await chartView());
        // A ward's next click is a new request (a macrotask): a bare loop of promises would starve the flood's timers.
        await new Promise((resolve) => setTimeout(resolve, VIEW_PAUSE_MS));
      }
    })();
    const started = performance.now();
    await inBatches(N, (i) => signInWithPassword({ email: i % 2 ? locked[i % locked.length]! : `nobody-${i}@bench.vigil.test`, password: 'Wrong-password-1' }, { ip: address(i), userAgent: 'flood' }));
    const floodSeconds = (performance.now() - started) / 1000;
    // The flood runs on the real clock, so it may straddle an interval boundary: one entry per source per interval it touched.
    const intervals = Math.floor(Date.now() / REFUSAL_INTERVAL_MS) - Math.floor((Date.now() - floodSeconds * 1000) / REFUSAL_INTERVAL_MS) + 1;
    flooding = false;
    await viewing;
    const hashes = hashQueueStats().computed - hashesBefore;
    await flushRefusals({ all: true });
    const entries = await db.select({ seq: auditLog.seq }).from(auditLog).where(and(gt(auditLog.seq, since), eq(auditLog.actionType, auditActions.auth.login)));

    // Guesses at real accounts: these hash, so the cap and the queue's bound decide.
    resetHashQueuePeak();
    const guesses = GUESSED_ACCOUNTS * lockoutPolicy.maxFailures;
    const results = await Promise.all(
      Array.from({ length: guesses }, (_, i) => signInWithPassword({ email: guessed[i % guessed.length]!, password: 'Wrong-password-1' }, { ip: address(N + i), userAgent: 'flood' })),
    );
    const busy = results.filter((r) => !r.ok && r.reason === 'busy').length;
    const peak = hashQueueStats().peakRunning;

    const rows: BenchRow[] = [
      { database: kind, measurement: 'flood at locked and unknown accounts', n: N, perSecond: Math.round(N / floodSeconds), hashes, auditEntries: entries.length, sources: SOURCES, intervals },
      { database: kind, measurement: 'wrong passwords at real accounts, all at once', n: guesses, peakConcurrentHashes: peak, cap: hashPolicy.maxConcurrent, refusedBusy: busy },
      { database: kind, measurement: 'chart view, no flood', n: baseline.length, medianMs: round(quantile(baseline, 0.5), 1), p95Ms: round(quantile(baseline, 0.95), 1) },
      { database: kind, measurement: 'chart view during the flood', n: during.length, medianMs: round(quantile(during, 0.5), 1), p95Ms: round(quantile(during, 0.95), 1) },
    ];
    return {
      rows,
      notes: [
        `${kind}: ${N} refused sign-ins from ${SOURCES} addresses in ${round(floodSeconds, 1)} s computed ${hashes} argon2 hashes (target 0: ${hashes === 0 ? 'met' : 'MISSED'}) and added ${entries.length} audit entries over ${intervals} refusal interval(s) (target ≤ ${SOURCES * intervals}, one per source per interval: ${entries.length <= SOURCES * intervals ? 'met' : 'MISSED'}).`,
        `${kind}: ${guesses} simultaneous guesses at real accounts ran at most ${peak} hashes at once (cap ${hashPolicy.maxConcurrent}: ${peak <= hashPolicy.maxConcurrent ? 'met' : 'MISSED'}); ${busy} were refused as busy rather than queued past ${hashPolicy.maxWaiting}.`,
        `${kind}: every chart view during the flood opened (${during.length} views): median ${rows[3]!.medianMs} ms, p95 ${rows[3]!.p95Ms} ms, against ${rows[2]!.medianMs} / ${rows[2]!.p95Ms} ms with no flood.`,
      ],
    };
  } finally {
    await handle.close();
  }
}

export async function run(): Promise<BenchResult> {
  installTestKeys();
  registerMonitoring(); // chart views cost what they cost in the portal
  const result: BenchResult = { name: 'Sign-in under a flood', rows: [], notes: [] };
  for (const kind of benchDatabaseKinds()) {
    const { rows, notes } = await runOn(kind);
    result.rows.push(...rows);
    result.notes!.push(...notes);
  }
  if (!process.env.VIGIL_BENCH_DATABASE_URL) result.notes!.push('Set VIGIL_BENCH_DATABASE_URL to measure PostgreSQL too.');
  for (const note of result.notes!) console.log(`  ${note}`);
  return result;
}

// `npx tsx --conditions=react-server bench/sign-in-flood.ts` runs this suite alone.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
