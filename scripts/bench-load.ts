/**
 * `npm run bench:load [-- --users 50 --seconds 60 …]`: the portal's production build on a fresh
 * PostgreSQL database, with simulated clinicians signing in, searching, opening charts and
 * recording vitals for a fixed time. Writes bench-results/load.json and load.md: errors and
 * p50/p95/p99 per operation, throughput, and the machine it ran on (the load generator, the
 * portal and PostgreSQL share its cores). Exits 1 if any operation failed.
 *
 * Options: --users N (50), --seconds N (60), --ramp N (seconds over which users start, 5),
 * --think-ms N (pause after each operation, 0: a closed-loop stress test), --patients N (200),
 * --caseload N (patients per clinician, 60), --dist-dir DIR (build directory, .next-load; built
 * when missing or older than the sources), --rebuild, --reuse-build (use it even if older),
 * --port N (first port tried, 3400), --pglite (PGlite instead of PostgreSQL, for comparison),
 * --out DIR (bench-results), --name NAME (load: the reports' file names, so other runs, e.g.
 * paced ones, can sit beside the main one), --floor-seconds N (each framework-floor phase, 15; 0
 * skips the floor), --skip-twin (no plaintext-twin run), --cpu-prof (profile the portal with
 * `node --cpu-prof` and put the summary in the report; the profiler slows it, so quote
 * throughput from a run without it), --instances N (one instance and then N behind HAProxy on a
 * primary with a synchronous standby, then failover under load: bench/cluster/instances-bench.ts,
 * reports load-instances.json and .md).
 *
 * On PostgreSQL the run starts its own server with fsync and synchronous_commit on and
 * pg_stat_statements loaded: it counts each operation's statements before the load, measures the
 * framework floor (sign-in page, /api/health, chart opens alone) after it, then runs the same
 * workload against the plaintext twin (VIGIL_BENCH_PLAINTEXT_TWIN: no encryption, audit or
 * monitoring) for the security tax, and reports every target as met or missed.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBuild, REPO_ROOT, treeCpuSeconds } from '@/bench/load/portal';
import { startPortal } from '@/bench/load/stack';
import { runLoad, type LoadResult } from '@/bench/load/run';
import { measureFloor, type FloorPhase } from '@/bench/load/floor';
import { durabilitySettings } from '@/bench/load/postgres';
import { serverProfile, summariseProfile, type ProfileSummary } from '@/bench/load/profile';
import { countStatements, type ChartSize, type StatementCount } from '@/bench/load/queries';
import { runInstancesBenchmark } from '@/bench/cluster/instances-bench';
import { main } from './cli';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '60' },
    ramp: { type: 'string', default: '5' },
    'think-ms': { type: 'string', default: '0' },
    patients: { type: 'string', default: '200' },
    caseload: { type: 'string', default: '60' },
    'dist-dir': { type: 'string', default: '.next-load' },
    rebuild: { type: 'boolean', default: false },
    'reuse-build': { type: 'boolean', default: false },
    port: { type: 'string', default: '3400' },
    pglite: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench-results' },
    name: { type: 'string', default: 'load' },
    'floor-seconds': { type: 'string', default: '15' },
    'skip-twin': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    instances: { type: 'string' },
  },
});

const count = (name: keyof typeof values, min: number) => {
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number ≥ ${min}.`);
  return value;
};

await main(async () => {
  const users = count('users', 1);
  const seconds = count('seconds', 1);
  const options = { users, seconds, ramp: count('ramp', 0), thinkMs: count('think-ms', 0), patients: count('patients', 10), caseload: count('caseload', 1) };
  const distDir = values['dist-dir']!;
  const floorSeconds = count('floor-seconds', 0);
  ensureBuild(distDir, { force: values.rebuild, reuse: values['reuse-build'], log: console.log });
  // --instances N: one instance, then N, behind HAProxy, and failover (bench/cluster/instances-bench.ts).
  if (values.instances !== undefined) return runInstancesBenchmark({ ...options, instances: count('instances', 2), distDir, out: values.out! });

  const kind = values.pglite ? 'pglite' : 'postgres';
  const fixture = { patients: options.patients, clinicians: users, caseload: options.caseload };
  const port = count('port', 1024);
  const profileDir = values['cpu-prof'] ? mkdtempSync(path.join(os.tmpdir(), 'vigil-cpu-prof-')) : null;
  const loadBefore = os.loadavg();

  const vigil = await measure('Vigil', kind, distDir, fixture, port, options, {
    nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : undefined,
    probe: kind === 'postgres',
    floorSeconds,
  });
  const profilePath = profileDir ? serverProfile(profileDir) : null;
  const profile = profilePath ? summariseProfile(profilePath) : null;
  const twin = values['skip-twin'] ? null : await measure('plaintext twin', kind, distDir, fixture, port, options, { env: { VIGIL_BENCH_PLAINTEXT_TWIN: '1' }, probe: false, floorSeconds: 0 });

  const context: Context = {
    ranAt: new Date().toISOString(),
    database: vigil.database,
    build: distDir,
    options,
    profiled: Boolean(profileDir),
    machine: {
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.cpus().length,
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      loadAverageBefore: loadBefore.map((l) => Math.round(l * 100) / 100),
      loadAverageAfter: os.loadavg().map((l) => Math.round(l * 100) / 100),
    },
    cpuSeconds: vigil.cpuSeconds,
  };
  const report = { ...context, result: vigil.result, statements: vigil.statements, chartSize: vigil.chartSize, floor: vigil.floor, twin: twin && { cpuSeconds: twin.cpuSeconds, result: twin.result }, profile, targets: targetsOf(vigil, twin) };
  const outDir = path.resolve(REPO_ROOT, values.out!);
  mkdirSync(outDir, { recursive: true });
  const name = values.name!.replace(/[^a-z0-9-]/gi, '') || 'load';
  writeFileSync(path.join(outDir, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(path.join(outDir, `${name}.md`), renderMarkdown(report));
  console.log(renderMarkdown(report));
  console.log(`Report: ${path.relative(process.cwd(), path.join(outDir, `${name}.md`))} and ${name}.json`);
  const errors = vigil.result.errors + (twin?.result.errors ?? 0);
  if (errors > 0) throw new Error(`${errors} operation(s) failed under load.`);
});

interface Measured {
  database: string;
  result: LoadResult;
  cpuSeconds: { loadGenerator: number; portal: number; database: number | null };
  statements: StatementCount[] | null;
  chartSize: ChartSize | null;
  floor: FloorPhase[] | null;
}

/** One portal on a fresh database: statements per operation, the load, then the framework floor. */
async function measure(
  label: string,
  kind: 'pglite' | 'postgres',
  distDir: string,
  fixture: { patients: number; clinicians: number; caseload: number },
  port: number,
  options: { users: number; seconds: number; ramp: number; thinkMs: number },
  how: { env?: Record<string, string>; nodeArgs?: string[]; probe: boolean; floorSeconds: number },
): Promise<Measured> {
  const running = await startPortal(kind, distDir, fixture, { port, log: console.log, knobs: { durable: true, statements: true }, env: how.env, nodeArgs: how.nodeArgs });
  try {
    const { portal, fixture: made } = running;
    const serverPid = portal.serverPid();
    let database = 'PGlite (in the portal process)';
    let statements: StatementCount[] | null = null;
    let chartSize: ChartSize | null = null;
    if (kind === 'postgres') {
      const ownerUrl = running.inspectConfig.databaseUrl!;
      const settings = await durabilitySettings(ownerUrl);
      database = `PostgreSQL (throwaway server from scripts/ensure-postgres.sh, fsync=${settings.fsync}, synchronous_commit=${settings.synchronousCommit}; the portal connects as the least-privileged vigil_app role)`;
      if (how.probe) {
        console.log(`${label}: counting statements per operation…`);
        ({ statements, chart: chartSize } = await countStatements({ baseUrl: portal.baseUrl, ownerUrl, appRole: 'vigil_app', clinician: made.clinicians.at(-1)!, password: made.password }));
      }
    }
    console.log(`${label} on ${portal.baseUrl} (next-server pid ${serverPid}); ${options.users} clinicians for ${options.seconds} s…`);
    const generatorCpu = process.cpuUsage();
    const cpu = () => ({ portal: treeCpuSeconds(serverPid), database: running.postmasterPid ? treeCpuSeconds(running.postmasterPid) : null });
    const cpuBefore = cpu();
    const result = await runLoad({
      baseUrl: portal.baseUrl,
      clinicians: made.clinicians,
      password: made.password,
      users: options.users,
      seconds: options.seconds,
      rampSeconds: options.ramp,
      thinkMs: options.thinkMs,
      onProgress: (line) => console.log(`  ${line}`),
    });
    const used = process.cpuUsage(generatorCpu);
    const cpuAfter = cpu();
    const cpuSeconds = {
      loadGenerator: Math.round(((used.user + used.system) / 1e6) * 10) / 10,
      portal: Math.round((cpuAfter.portal - cpuBefore.portal) * 10) / 10,
      // Live backends only: one that exited during the run took its CPU time with it.
      database: cpuAfter.database !== null && cpuBefore.database !== null ? Math.round((cpuAfter.database - cpuBefore.database) * 10) / 10 : null,
    };
    let floor: FloorPhase[] | null = null;
    if (how.floorSeconds > 0) {
      console.log(`${label}: the framework floor, ${how.floorSeconds} s a phase…`);
      floor = await measureFloor({ baseUrl: portal.baseUrl, clinicians: made.clinicians, password: made.password, clients: options.users, seconds: how.floorSeconds });
    }
    return { database, result, cpuSeconds, statements, chartSize, floor };
  } finally {
    await running.cleanup();
  }
}

interface Target {
  target: string;
  goal: string;
  measured: string;
  met: boolean | null;
}

function perOperationMs(m: { cpuSeconds: { portal: number }; result: LoadResult }): number | null {
  return m.result.completed ? (m.cpuSeconds.portal * 1000) / m.result.completed : null;
}

function targetsOf(vigil: Measured, twin: Measured | null): Target[] {
  const chart = vigil.result.operations.find((o) => o.operation === 'chart open');
  const floorOf = (phase: FloorPhase['phase']) => vigil.floor?.find((f) => f.phase === phase) ?? null;
  const signInPage = floorOf('sign-in page');
  const charts = floorOf('chart open');
  const fraction = signInPage && charts && signInPage.perSecond > 0 ? Math.round((charts.perSecond / signInPage.perSecond) * 100) / 100 : null;
  const vigilCpu = perOperationMs(vigil);
  const twinCpu = twin ? perOperationMs(twin) : null;
  const tax = vigilCpu !== null && twinCpu ? Math.round((vigilCpu / twinCpu) * 100) / 100 : null;
  const round = (v: number | null, unit = '') => (v === null ? 'not measured' : `${Math.round(v * 10) / 10}${unit}`);
  return [
    { target: 'throughput, 50 clinicians, closed loop', goal: '≥ 150 operations/s', measured: `${vigil.result.throughput} operations/s`, met: vigil.result.throughput >= 150 },
    { target: 'chart open p95', goal: '≤ 300 ms', measured: round(chart?.p95 ?? null, ' ms'), met: chart?.p95 != null ? chart.p95 <= 300 : null },
    { target: 'errors', goal: '0', measured: String(vigil.result.errors), met: vigil.result.errors === 0 },
    { target: 'chart opens/s ÷ sign-in page requests/s (same run)', goal: '≥ 0.5', measured: fraction === null ? 'not measured' : `${fraction} (${charts!.perSecond} / ${signInPage!.perSecond})`, met: fraction === null ? null : fraction >= 0.5 },
    { target: 'portal CPU per operation, Vigil ÷ plaintext twin', goal: '≤ 1.3x', measured: tax === null ? 'not measured' : `${tax}x (${round(vigilCpu, ' ms')} / ${round(twinCpu, ' ms')})`, met: tax === null ? null : tax <= 1.3 },
  ];
}

type Context = {
  ranAt: string;
  database: string;
  build: string;
  options: { users: number; seconds: number; ramp: number; thinkMs: number; patients: number; caseload: number };
  profiled: boolean;
  machine: { cpu: string; cores: number; memoryGb: number; node: string; platform: string; loadAverageBefore: number[]; loadAverageAfter: number[] };
  cpuSeconds: { loadGenerator: number; portal: number; database: number | null };
};

type Report = Context & {
  result: LoadResult;
  statements: StatementCount[] | null;
  chartSize: ChartSize | null;
  floor: FloorPhase[] | null;
  twin: { cpuSeconds: Measured['cpuSeconds']; result: LoadResult } | null;
  profile: ProfileSummary | null;
  targets: Target[];
};

function renderMarkdown(report: Report): string {
  const { options, machine, result } = report;
  const ms = (v: number | null) => (v === null ? '–' : String(v));
  const met = (m: boolean | null) => (m === null ? 'not measured' : m ? 'met' : '**missed**');
  const perOp = (cpu: number, n: number) => (n ? `${Math.round((cpu * 1000) / n * 10) / 10} ms` : '–');
  const lines = [
    '# Vigil load benchmark',
    '',
    `${options.users} simulated clinicians for ${options.seconds} s (started over ${options.ramp} s, think time ${options.thinkMs} ms) on ${report.database}. Ran ${report.ranAt}.${report.profiled ? ' **The portal ran under the CPU profiler**, which slows it: quote throughput from a run without `--cpu-prof`.' : ''}`,
    '',
    `**Machine load average** before / after: ${machine.loadAverageBefore.join(', ')} / ${machine.loadAverageAfter.join(', ')} (1/5/15 min, ${machine.cores} cores; other work on the machine at the time takes cores from the portal).`,
    '',
    '## Targets',
    '',
    '| target | goal | measured | |',
    '| --- | --- | --- | --- |',
    ...report.targets.map((t) => `| ${t.target} | ${t.goal} | ${t.measured} | ${met(t.met)} |`),
    '',
    '## The workload',
    '',
    `Each clinician (its own nurse account, ${options.caseload} patients on its care team) signs in through the login form, loads its patient list, then in a loop searches a patient by last name, opens the chart from the results and records vitals through the chart's form (the server action a browser posts without JavaScript). Latency: request start to last byte, in ms.`,
    '',
    '| operation | count | errors | p50 ms | p95 ms | p99 ms | max ms | mean ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...result.operations.map((o) => `| ${o.operation} | ${o.count} | ${o.errors} | ${ms(o.p50)} | ${ms(o.p95)} | ${ms(o.p99)} | ${ms(o.max)} | ${ms(o.mean)} |`),
    '',
    `**Throughput:** ${result.throughput} operations/s (${result.completed} in ${result.elapsedSeconds} s), of which ${result.writesPerSecond} vitals writes/s. **Errors:** ${result.errors}. Portal CPU ${report.cpuSeconds.portal} s (${perOp(report.cpuSeconds.portal, result.completed)} per operation)${report.cpuSeconds.database !== null ? `, PostgreSQL ${report.cpuSeconds.database} s` : ''}, load generator ${report.cpuSeconds.loadGenerator} s, of the ${Math.round(machine.cores * result.elapsedSeconds)} core-seconds the machine had.`,
    '',
    ...(result.errorMessages.length ? ['Errors seen:', '', ...result.errorMessages.map((e) => `- ${e.count} × ${e.message}`), ''] : []),
    ...(report.twin
      ? [
          '## The plaintext twin',
          '',
          `The same workload, fixture and build with \`VIGIL_BENCH_PLAINTEXT_TWIN=1\` (values stored in clear, no audit entries, no monitoring; refused in production mode): ${report.twin.result.throughput} operations/s, ${report.twin.result.errors} errors, portal CPU ${report.twin.cpuSeconds.portal} s (${perOp(report.twin.cpuSeconds.portal, report.twin.result.completed)} per operation)${report.twin.cpuSeconds.database !== null ? `, PostgreSQL ${report.twin.cpuSeconds.database} s` : ''}.`,
          '',
          '| operation | count | p50 ms | p95 ms |',
          '| --- | ---: | ---: | ---: |',
          ...report.twin.result.operations.map((o) => `| ${o.operation} | ${o.count} | ${ms(o.p50)} | ${ms(o.p95)} |`),
          '',
        ]
      : []),
    ...(report.floor
      ? [
          '## The framework floor (same run, after the load)',
          '',
          `${options.users} closed-loop clients asking one thing each phase: the sign-in page (dynamic, no database), \`/api/health\`, and chart opens alone by signed-in clinicians.`,
          '',
          '| phase | requests | errors | requests/s | p50 ms | p95 ms |',
          '| --- | ---: | ---: | ---: | ---: | ---: |',
          ...report.floor.map((f) => `| ${f.phase} | ${f.requests} | ${f.errors} | ${f.perSecond} | ${ms(f.p50)} | ${ms(f.p95)} |`),
          '',
        ]
      : []),
    ...(report.statements
      ? [
          '## Statements per request',
          '',
          'Counted by PostgreSQL (pg_stat_statements) for one signed-in clinician, 5 requests each; BEGIN counts; COMMIT is not listed by pg_stat_statements, so each transaction is one round trip more.',
          '',
          '| operation | statements per request |',
          '| --- | ---: |',
          ...report.statements.map((st) => `| ${st.operation} | ${st.perRequest} |`),
          '',
          ...(report.chartSize ? [`A chart as the browser receives it: ${report.chartSize.htmlBytes} bytes of HTML on a first visit, ${report.chartSize.rscBytes} bytes of RSC payload on a client navigation.`, ''] : []),
        ]
      : []),
    ...(report.profile
      ? [
          '## Where the CPU goes (profile of the portal under this load)',
          '',
          `\`node --cpu-prof\` on the server for the whole run, ${report.profile.sampledMs} ms of samples (idle excluded). Each sample is counted once, by the innermost of the request's steps on its stack (bench/load/profile.ts names them).`,
          '',
          '| step | ms | share |',
          '| --- | ---: | ---: |',
          ...report.profile.steps.map((st) => `| ${st.step} | ${st.ms} | ${st.share}% |`),
          '',
          'Top functions by self time:',
          '',
          '| function (chunk) | ms | share |',
          '| --- | ---: | ---: |',
          ...report.profile.topSelf.map((f) => `| \`${f.function.replace(/\|/g, '\\|')}\` | ${f.ms} | ${f.share}% |`),
          '',
        ]
      : []),
    '## Machine and context',
    '',
    `- ${machine.cpu}, **${machine.cores} cores** and ${machine.memoryGb} GB, ${machine.platform}, Node ${machine.node}.`,
    `- The load generator, the portal (one \`next start\` process) and ${report.database.startsWith('PGlite') ? 'the database (PGlite, inside the portal)' : 'PostgreSQL'} all share these cores: latencies include queueing behind each other.`,
    `- Think time ${options.thinkMs} ms${options.thinkMs === 0 ? ' is a closed-loop stress test: each clinician sends its next request as soon as the last is answered, far above a human\'s pace, so latency is mostly queueing at saturation' : ''}.`,
    '- Every chart open and write is authorised, decrypted or sealed with the patient\'s key, audited in its transaction and counted by the access monitor (its volume floor raised for these machine-speed accounts).',
    '',
  ];
  return `${lines.join('\n')}\n`;
}
