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
 * paced ones, can sit beside the main one).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBuild, REPO_ROOT, treeCpuSeconds } from '@/bench/load/portal';
import { startPortal } from '@/bench/load/stack';
import { runLoad, type LoadResult } from '@/bench/load/run';
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
  ensureBuild(distDir, { force: values.rebuild, reuse: values['reuse-build'], log: console.log });

  const kind = values.pglite ? 'pglite' : 'postgres';
  const running = await startPortal(kind, distDir, { patients: options.patients, clinicians: users, caseload: options.caseload }, { port: count('port', 1024), log: console.log });
  try {
    const { portal, fixture } = running;
    const serverPid = portal.serverPid();
    console.log(`Portal on ${portal.baseUrl} (next-server pid ${serverPid}); ${users} clinicians for ${seconds} s…`);

    const loadBefore = os.loadavg();
    const generatorCpu = process.cpuUsage();
    const cpu = () => ({ portal: treeCpuSeconds(serverPid), database: running.postmasterPid ? treeCpuSeconds(running.postmasterPid) : null });
    const cpuBefore = cpu();
    const result = await runLoad({
      baseUrl: portal.baseUrl,
      clinicians: fixture.clinicians,
      password: fixture.password,
      users,
      seconds,
      rampSeconds: options.ramp,
      thinkMs: options.thinkMs,
      onProgress: (line) => console.log(`  ${line}`),
    });
    const used = process.cpuUsage(generatorCpu);
    const cpuAfter = cpu();
    const context = {
      ranAt: new Date().toISOString(),
      database: kind === 'postgres' ? 'PostgreSQL 15 (throwaway server from scripts/ensure-postgres.sh: fsync=off, synchronous_commit=off; the portal connects as the least-privileged vigil_app role)' : 'PGlite (in the portal process)',
      build: distDir,
      options,
      machine: {
        cpu: os.cpus()[0]?.model ?? 'unknown',
        cores: os.cpus().length,
        memoryGb: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        platform: `${os.platform()} ${os.release()}`,
        loadAverageBefore: loadBefore.map((l) => Math.round(l * 100) / 100),
        loadAverageAfter: os.loadavg().map((l) => Math.round(l * 100) / 100),
      },
      cpuSeconds: {
        loadGenerator: Math.round(((used.user + used.system) / 1e6) * 10) / 10,
        portal: Math.round((cpuAfter.portal - cpuBefore.portal) * 10) / 10,
        // Live backends only: one that exited during the run took its CPU time with it.
        database: cpuAfter.database !== null && cpuBefore.database !== null ? Math.round((cpuAfter.database - cpuBefore.database) * 10) / 10 : null,
      },
    };
    const outDir = path.resolve(REPO_ROOT, values.out!);
    mkdirSync(outDir, { recursive: true });
    const name = values.name!.replace(/[^a-z0-9-]/gi, '') || 'load';
    writeFileSync(path.join(outDir, `${name}.json`), `${JSON.stringify({ ...context, result }, null, 2)}\n`);
    writeFileSync(path.join(outDir, `${name}.md`), renderMarkdown(context, result));
    console.log(renderMarkdown(context, result));
    console.log(`Report: ${path.relative(process.cwd(), path.join(outDir, `${name}.md`))} and ${name}.json`);
    if (result.errors > 0) throw new Error(`${result.errors} operation(s) failed under load.`);
  } finally {
    await running.cleanup();
  }
});

type Context = {
  ranAt: string;
  database: string;
  build: string;
  options: { users: number; seconds: number; ramp: number; thinkMs: number; patients: number; caseload: number };
  machine: { cpu: string; cores: number; memoryGb: number; node: string; platform: string; loadAverageBefore: number[]; loadAverageAfter: number[] };
  cpuSeconds: { loadGenerator: number; portal: number; database: number | null };
};

function renderMarkdown(context: Context, result: LoadResult): string {
  const { options, machine } = context;
  const ms = (v: number | null) => (v === null ? '–' : String(v));
  const lines = [
    '# Vigil load benchmark',
    '',
    `${options.users} simulated clinicians for ${options.seconds} s (started over ${options.ramp} s, think time ${options.thinkMs} ms) on ${context.database}. Ran ${context.ranAt}.`,
    '',
    'Each clinician (its own nurse account, 60 patients on its care team) signs in through the login form, loads its patient list, then in a loop searches a patient by last name, opens the chart from the results and records vitals through the chart\'s form (the server action a browser posts without JavaScript). Latency: request start to last byte, in ms.',
    '',
    '| operation | count | errors | p50 ms | p95 ms | p99 ms | max ms | mean ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...result.operations.map((o) => `| ${o.operation} | ${o.count} | ${o.errors} | ${ms(o.p50)} | ${ms(o.p95)} | ${ms(o.p99)} | ${ms(o.max)} | ${ms(o.mean)} |`),
    '',
    `**Throughput:** ${result.throughput} operations/s (${result.completed} in ${result.elapsedSeconds} s), of which ${result.writesPerSecond} vitals writes/s. **Errors:** ${result.errors}.`,
    '',
    ...(result.errorMessages.length ? ['Errors seen:', '', ...result.errorMessages.map((e) => `- ${e.count} × ${e.message}`), ''] : []),
    '## Machine and context',
    '',
    `- ${machine.cpu}, **${machine.cores} cores** and ${machine.memoryGb} GB, ${machine.platform}, Node ${machine.node}.`,
    `- The load generator, the portal (one \`next start\` process) and ${context.database.startsWith('PGlite') ? 'the database (PGlite, inside the portal)' : 'PostgreSQL'} all share these cores: latencies include queueing behind each other. CPU used during the run: portal ${context.cpuSeconds.portal} s${context.cpuSeconds.database !== null ? `, PostgreSQL ${context.cpuSeconds.database} s` : ''}, load generator ${context.cpuSeconds.loadGenerator} s, of the ${Math.round(machine.cores * result.elapsedSeconds)} core-seconds the machine had (the rest was idle or used by other processes: see the load average).`,
    `- Load average before / after: ${machine.loadAverageBefore.join(', ')} / ${machine.loadAverageAfter.join(', ')} (other work on the machine at the time adds noise).`,
    `- Think time ${options.thinkMs} ms${options.thinkMs === 0 ? ' is a closed-loop stress test: each clinician sends its next request as soon as the last is answered, far above a human\'s pace, so latency is mostly queueing at saturation' : ''}.`,
    '- Every chart open and write is authorised, decrypted or sealed with the patient\'s key, audited in its transaction (one hash chain, appended under an advisory lock) and counted by the access monitor (its volume floor raised for these machine-speed accounts).',
    '',
  ];
  return `${lines.join('\n')}\n`;
}
