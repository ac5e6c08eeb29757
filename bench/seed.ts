/**
 * `npm run db:seed -- --patients 100000`, timed as a user runs it: the command in its own
 * process (start-up, migrations of a new database, and the seed), on a fresh PGlite data
 * directory, and on a fresh database of the PostgreSQL server VIGIL_BENCH_DATABASE_URL names
 * (with that server's fsync and synchronous_commit reported, since a seed's commits wait on
 * them). Target: at most 60 s for 100,000 patients. The machine's load average goes with each
 * row: the seed uses every core, and other work on the machine slows it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { rowsOf } from '@/db/client';
import { generateKeyMaterial } from '@/lib/platform/crypto/key-provider';
import { benchDatabaseKinds, scratchDatabase, type BenchDatabaseKind } from './scratch-database';
import { serverCpu } from './server-cpu';
import { round, type BenchResult, type BenchRow } from './types';

const PATIENTS = Number(process.env.VIGIL_BENCH_SEED_PATIENTS ?? 100_000);
const TARGET_SECONDS = 60;
const TARGET_PATIENTS = 100_000;

const loadAverage = () => os.loadavg().map((l) => round(l, 1)).join(' / ');

/** Runs the seed command to the end; its own report of the seeding part is parsed from stdout. */
async function seedCommand(env: NodeJS.ProcessEnv): Promise<{ seconds: number; seedingSeconds: number; cpuSeconds: number }> {
  const started = performance.now();
  let stdout = '';
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, 'scripts/seed.ts', '--patients', String(PATIENTS)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('error', reject);
    child.on('exit', resolve);
  });
  if (code !== 0) throw new Error(`The seed exited with code ${code}.`);
  const seeding = /Seeded up to \d+ patients in ([\d.]+)s \(([\d.]+) CPU-seconds/.exec(stdout);
  return { seconds: (performance.now() - started) / 1000, seedingSeconds: seeding ? Number(seeding[1]) : Number.NaN, cpuSeconds: seeding ? Number(seeding[2]) : Number.NaN };
}

async function runOn(kind: BenchDatabaseKind): Promise<BenchRow> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-seed-'));
  const keyFile = path.join(dir, 'keys.json');
  writeFileSync(keyFile, JSON.stringify(generateKeyMaterial()), { mode: 0o600 });
  // This run's database and key file only, whatever the shell had set.
  const { DATABASE_URL: _url, VIGIL_MASTER_KEYS: _keys, VIGIL_KEY_PROVIDER: _provider, ...inherited } = process.env;
  const env: NodeJS.ProcessEnv = { ...inherited, VIGIL_DATA_DIR: dir, VIGIL_KEY_FILE: keyFile };
  let durability = 'n/a (PGlite)';
  const scratch = kind === 'postgres' ? await scratchDatabase(kind) : undefined;
  try {
    let server: (() => number) | undefined;
    if (scratch) {
      const [row] = rowsOf<{ fsync: string; sc: string }>(await scratch.db.execute(sql`SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sc`));
      durability = `fsync ${row!.fsync}, synchronous_commit ${row!.sc}`;
      env.DATABASE_URL = scratch.url;
      server = await serverCpu(scratch);
    }
    const before = loadAverage();
    const serverBefore = server?.();
    const { seconds, seedingSeconds, cpuSeconds } = await seedCommand(env);
    const serverSeconds = server && serverBefore !== undefined ? server() - serverBefore : undefined;
    const met = PATIENTS === TARGET_PATIENTS ? (seconds <= TARGET_SECONDS ? 'met' : 'MISSED') : `n/a (${PATIENTS} patients, not ${TARGET_PATIENTS})`;
    return {
      database: kind,
      durability,
      patients: PATIENTS,
      'command s': round(seconds, 1),
      'seeding s': round(seedingSeconds, 1),
      'patients/s': Math.round(PATIENTS / seedingSeconds),
      'seed process CPU s': round(cpuSeconds, 1),
      'server CPU s': kind === 'pglite' ? 'in the seed process' : serverSeconds === undefined ? 'n/a (not on this machine)' : round(serverSeconds, 1),
      'load avg before (1/5/15)': before,
      'load avg after (1/5/15)': loadAverage(),
      [`target ≤ ${TARGET_SECONDS} s`]: met,
      ...(PATIENTS === TARGET_PATIENTS ? {} : { [`${TARGET_PATIENTS / 1000}k estimate s`]: round(seconds - seedingSeconds + (seedingSeconds * TARGET_PATIENTS) / PATIENTS, 0) }),
    };
  } finally {
    await scratch?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult> {
  const rows: BenchRow[] = [];
  for (const kind of benchDatabaseKinds()) rows.push(await runOn(kind));
  return {
    name: `Seeding ${PATIENTS.toLocaleString('en-US')} patients`,
    rows,
    notes: [
      `\`npm run db:seed -- --patients ${PATIENTS}\` in its own process on a new database: "command s" is the whole command (start-up, migrations — PGlite starts from an empty directory, the PostgreSQL database is created migrated — and the seed), "seeding s" the seed alone as the command reports it.`,
      `Worker threads (one per core, ${os.availableParallelism()} here) generate and seal each batch of 500 patients; the main thread writes them with COPY, in order, all in one transaction with the seeded tables' indexes built after the load (the database is new; on PGlite its rows skip the WAL) — on PostgreSQL over a connection with TCP_NODELAY.`,
      'Seed process CPU s: user and system time of every thread of the seed command (workers included; PGlite runs in it too): the work the seed does, which does not change much with what else runs. Server CPU s: the PostgreSQL server\'s processes over the same time, when the server runs on this machine (read from /proc). On a quiet machine the wall time approaches the two together divided by the cores (PGlite writes on one thread).',
      `Target: ${TARGET_PATIENTS.toLocaleString('en-US')} patients in at most ${TARGET_SECONDS} s, judged on the whole command. The machine is shared: the load average before and after each run says how much else was running on its ${os.cpus().length} cores.`,
      ...(PATIENTS === TARGET_PATIENTS ? [] : [`${TARGET_PATIENTS / 1000}k estimate s: a linear extrapolation (start-up as measured, seeding scaled by ${TARGET_PATIENTS}/${PATIENTS}), not a measurement; larger databases tend to be slower per patient.`]),
      ...(process.env.VIGIL_BENCH_DATABASE_URL ? [] : ['Set VIGIL_BENCH_DATABASE_URL to measure PostgreSQL too.']),
    ],
  };
}
