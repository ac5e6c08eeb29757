/**
 * `npm run bench:load -- --instances N`: the same load (bench/load/run.ts) through HAProxy
 * against one instance and then against N, each on a PostgreSQL primary with a synchronous
 * standby, in one run; then, with N instances, failover under load (./failover.ts) and its
 * window. CPU per process tells where the bottleneck sits. Reports: bench-results/
 * load-instances.json and .md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEMO_PASSWORD } from '@/db/seed';
import { REPO_ROOT, treeCpuSeconds } from '@/bench/load/portal';
import { runLoad, type LoadResult } from '@/bench/load/run';
import { startCluster } from './cluster';
import { failoverUnderLoad } from './failover';
import type { ReplicatedPostgres } from './replication';

export interface InstancesBenchOptions {
  instances: number;
  users: number;
  seconds: number;
  ramp: number;
  thinkMs: number;
  patients: number;
  caseload: number;
  distDir: string;
  out: string;
}

interface Run {
  instances: number;
  result: LoadResult;
  cpuSeconds: { instances: number[]; postgresPrimary: number | null; loadGenerator: number };
  loadAverage: number[];
}

const round = (v: number) => Math.round(v * 10) / 10;

async function measure(options: InstancesBenchOptions, instances: number, failover: boolean) {
  const cluster = await startCluster({
    instances,
    distDir: options.distDir,
    replicated: true,
    fixture: { patients: options.patients, clinicians: options.users, caseload: options.caseload },
    ports: { portal: 3230, proxy: 3237, stats: 3238, postgres: { from: 55630, to: 55639 } },
    log: console.log,
  });
  try {
    const pids = cluster.instances.map((i) => i.serverPid());
    const cpu = () => ({ instances: pids.map(treeCpuSeconds), postgres: cluster.database.postmasterPid ? treeCpuSeconds(cluster.database.postmasterPid) : null });
    const before = cpu();
    const generator = process.cpuUsage();
    console.log(`${instances} instance(s): ${options.users} clinicians for ${options.seconds} s…`);
    const result = await runLoad({ baseUrl: cluster.baseUrl, clinicians: cluster.fixture.clinicians, password: DEMO_PASSWORD, users: options.users, seconds: options.seconds, rampSeconds: options.ramp, thinkMs: options.thinkMs, onProgress: (l) => console.log(`  ${l}`) });
    const used = process.cpuUsage(generator);
    const after = cpu();
    const run: Run = {
      instances,
      result,
      cpuSeconds: {
        instances: after.instances.map((v, i) => round(v - before.instances[i]!)),
        postgresPrimary: after.postgres !== null && before.postgres !== null ? round(after.postgres - before.postgres) : null,
        loadGenerator: round((used.user + used.system) / 1e6),
      },
      loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    };
    const failed = failover
      ? await failoverUnderLoad({ baseUrl: cluster.baseUrl, database: cluster.database as ReplicatedPostgres, clinicians: cluster.fixture.clinicians.slice(0, 4), password: DEMO_PASSWORD, warmupMs: 5_000, recoverMs: 60_000, log: console.log })
      : null;
    return { run, failover: failed && { windowSeconds: failed.windowSeconds, firstSuccessAfterSeconds: failed.firstSuccessAfterSeconds, acknowledged: failed.attempts.filter((a) => a.acknowledged).length, refused: failed.failed } };
  } finally {
    await cluster.cleanup();
  }
}

export async function runInstancesBenchmark(options: InstancesBenchOptions): Promise<void> {
  const single = await measure(options, 1, false);
  const many = await measure(options, options.instances, true);
  const report = {
    ranAt: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    options,
    database: 'PostgreSQL 15, primary with a synchronous streaming standby (fsync on, synchronous_commit on), the portal as vigil_app over a multi-host URL with target_session_attrs=read-write',
    runs: [single.run, many.run],
    failover: many.failover,
  };
  const outDir = path.resolve(REPO_ROOT, options.out);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'load-instances.json'), `${JSON.stringify(report, null, 2)}\n`);
  const md = renderMarkdown(report);
  writeFileSync(path.join(outDir, 'load-instances.md'), md);
  console.log(md);
  const errors = report.runs.reduce((n, r) => n + r.result.errors, 0);
  if (errors > 0) throw new Error(`${errors} operation(s) failed under load.`);
}

function renderMarkdown(report: { ranAt: string; machine: { cpu: string; cores: number; memoryGb: number; node: string }; options: InstancesBenchOptions; database: string; runs: Run[]; failover: { windowSeconds: number; firstSuccessAfterSeconds: number | null; acknowledged: number; refused: number } | null }): string {
  const { options, machine } = report;
  const lines = [
    '# Vigil load benchmark: one instance and several behind HAProxy',
    '',
    `${options.users} simulated clinicians for ${options.seconds} s each run (think time ${options.thinkMs} ms), through HAProxy (round robin), on ${report.database}. Ran ${report.ranAt} on ${machine.cpu}, **${machine.cores} cores**, ${machine.memoryGb} GB, Node ${machine.node}; the load generator, every instance, HAProxy and both PostgreSQL servers share these cores.`,
    '',
    '| instances | operations/s | vitals writes/s | errors | chart open p50 / p95 ms | vitals write p50 / p95 ms | CPU s: instances | CPU s: PostgreSQL primary | CPU s: load generator | load average after |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |',
    ...report.runs.map((r) => {
      const op = (name: string) => r.result.operations.find((o) => o.operation === name)!;
      return `| ${r.instances} | ${r.result.throughput} | ${r.result.writesPerSecond} | ${r.result.errors} | ${op('chart open').p50} / ${op('chart open').p95} | ${op('vitals write').p50} / ${op('vitals write').p95} | ${r.cpuSeconds.instances.join(' + ')} | ${r.cpuSeconds.postgresPrimary ?? '–'} | ${r.cpuSeconds.loadGenerator} | ${r.loadAverage.join(', ')} |`;
    }),
    '',
    report.failover
      ? `**Failover** (${report.runs[1]!.instances} instances, 4 clinicians writing; kill -9 of the primary's postmaster, then pg_ctl promote at once): requests failed for **${report.failover.windowSeconds} s** after the kill; the first write acknowledged by the new primary came back ${report.failover.firstSuccessAfterSeconds} s after it; ${report.failover.acknowledged} writes acknowledged, ${report.failover.refused} refused with "try again" or the error page.`
      : '',
    '',
    bottleneck(report.runs, machine.cores, options.seconds),
    '',
  ];
  return `${lines.join('\n')}\n`;
}

/** Where the time went, from the numbers: the portal's CPU, PostgreSQL's, the generator's, against what the cores had. */
function bottleneck(runs: Run[], cores: number, seconds: number): string {
  const [one, many] = runs as [Run, Run];
  const portal = (r: Run) => round(r.cpuSeconds.instances.reduce((a, b) => a + b, 0));
  const ratio = Math.round((many.result.throughput / Math.max(0.1, one.result.throughput)) * 100);
  return [
    `Where the bottleneck sits: ${many.instances} instances gave ${ratio}% of one instance's throughput. The runs had ${cores * seconds} core-seconds each;`,
    `the portal used ${portal(one)} s with one instance and ${portal(many)} s with ${many.instances}, PostgreSQL's primary ${one.cpuSeconds.postgresPrimary ?? '–'} s and ${many.cpuSeconds.postgresPrimary ?? '–'} s, the load generator ${one.cpuSeconds.loadGenerator} s and ${many.cpuSeconds.loadGenerator} s.`,
    'The portal\'s own CPU (rendering, argon2 at sign-in, sealing and the monitor) is the largest share and PostgreSQL a small one: on one machine a second instance adds no cores,',
    'only a second process competing for them (and for the audit chain\'s one advisory lock, every commit waiting for the standby), so more instances pay off only on more machines.',
    'The load average after each run shows how much of the machine other processes took meanwhile.',
  ].join(' ');
}
