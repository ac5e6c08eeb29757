/**
 * `npm run bench [-- --only <suite>[,<suite>]]`: runs benchmark suites and merges their results
 * into bench-results/report.json and report.md (a suite not run keeps its previous section).
 * Each suite runs in its own child process, so one suite's globals (key provider, database,
 * audit listeners) cannot colour another's numbers.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { BenchResult, BenchRow, BenchTable, BenchValue } from '@/bench/types';
import { main } from './cli';

/** The suites, by name. Add yours here: bench/<name>.ts exporting `run(): Promise<BenchResult>`. */
const suites: Record<string, () => Promise<{ run: () => Promise<unknown> }>> = {
  audit: () => import('@/bench/audit'),
  caseload: () => import('@/bench/caseload'),
  crypto: () => import('@/bench/crypto'),
  'key-stores': () => import('@/bench/key-stores'),
  monitor: () => import('@/bench/monitor'),
  seed: () => import('@/bench/seed'),
  'sign-in-flood': () => import('@/bench/sign-in-flood'),
};

const OUT_DIR = path.resolve('bench-results');
const REPORT_JSON = path.join(OUT_DIR, 'report.json');
const REPORT_MD = path.join(OUT_DIR, 'report.md');

interface SuiteSection {
  ranAt: string;
  seconds: number;
  /** 1/5/15-minute load average as the suite ended: other work on the machine skews wall times. */
  loadAverage?: number[];
  result: BenchResult;
}
interface Report {
  updatedAt: string;
  machine: { node: string; platform: string; cpus: string; cores: number; memoryGb: number };
  suites: Record<string, SuiteSection>;
}

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    child: { type: 'string' },
    out: { type: 'string' },
  },
});

await main(async () => {
  if (values.child) {
    await runChild(values.child, values.out!);
    return;
  }
  const chosen = values.only ? values.only.split(',').map((s) => s.trim()).filter(Boolean) : Object.keys(suites);
  const unknown = chosen.filter((name) => !(name in suites));
  if (unknown.length > 0) throw new Error(`Unknown suite(s): ${unknown.join(', ')}. Known: ${Object.keys(suites).join(', ')}.`);

  mkdirSync(OUT_DIR, { recursive: true });
  const report = readReport();
  const failed: string[] = [];
  for (const name of chosen) {
    console.log(`\n=== bench: ${name} ===`);
    const started = Date.now();
    try {
      const result = await runInChild(name);
      report.suites[name] = {
        ranAt: new Date().toISOString(),
        seconds: Math.round((Date.now() - started) / 100) / 10,
        loadAverage: os.loadavg().map((l) => Math.round(l * 10) / 10),
        result,
      };
    } catch (error) {
      failed.push(name);
      console.error(`Suite ${name} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    report.updatedAt = new Date().toISOString();
    report.machine = machine();
    writeFileSync(REPORT_JSON, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(REPORT_MD, renderMarkdown(report));
  }
  console.log(`\nReport: ${path.relative(process.cwd(), REPORT_MD)} and ${path.relative(process.cwd(), REPORT_JSON)}`);
  if (failed.length > 0) throw new Error(`Suite(s) failed: ${failed.join(', ')}.`);
});

function machine(): Report['machine'] {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
  };
}

function readReport(): Report {
  if (existsSync(REPORT_JSON)) {
    try {
      const previous = JSON.parse(readFileSync(REPORT_JSON, 'utf8')) as Report;
      if (previous && typeof previous.suites === 'object') return previous;
    } catch {
      console.warn('The previous report could not be read; starting a new one.');
    }
  }
  return { updatedAt: '', machine: machine(), suites: {} };
}

/** Runs one suite in a fresh Node process with this one's loader flags (tsx, react-server). */
async function runInChild(name: string): Promise<BenchResult> {
  const out = path.join(os.tmpdir(), `vigil-bench-${name}-${process.pid}.json`);
  const script = fileURLToPath(import.meta.url);
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, script, '--child', name, '--out', out], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', resolve);
  });
  try {
    if (code !== 0) throw new Error(`exited with code ${code}`);
    return JSON.parse(readFileSync(out, 'utf8')) as BenchResult;
  } finally {
    rmSync(out, { force: true });
  }
}

async function runChild(name: string, out: string): Promise<void> {
  const load = suites[name];
  if (!load) throw new Error(`Unknown suite ${name}.`);
  const raw = await (await load()).run();
  writeFileSync(out, JSON.stringify(asBenchResult(name, raw)));
  // Suites may leave handles (timers, pools) open; the result is written, so end here.
  process.exit(0);
}

/**
 * A suite's result as a BenchResult. Suites written to their own shape still get a section:
 * arrays of objects become tables, other values a list of notes.
 */
function asBenchResult(name: string, raw: unknown): BenchResult {
  const value = raw as Partial<BenchResult> | null;
  if (value && typeof value.name === 'string' && Array.isArray(value.rows)) return value as BenchResult;
  const tables: BenchTable[] = [];
  const notes: string[] = [];
  const visit = (prefix: string, item: unknown) => {
    if (Array.isArray(item) && item.every((row) => row && typeof row === 'object' && !Array.isArray(row))) {
      tables.push({ title: prefix, rows: item.map((row) => flatten(row as Record<string, unknown>)) });
    } else if (item && typeof item === 'object' && !Array.isArray(item)) {
      for (const [key, inner] of Object.entries(item)) visit(prefix ? `${prefix}.${key}` : key, inner);
    } else {
      notes.push(`${prefix}: ${JSON.stringify(item)}`);
    }
  };
  visit('', raw);
  return { name, rows: [], tables, notes };
}

function flatten(row: Record<string, unknown>): BenchRow {
  return Object.fromEntries(
    Object.entries(row).map(([key, v]): [string, BenchValue] => [
      key,
      v === null || ['string', 'number', 'boolean'].includes(typeof v) ? (v as BenchValue) : JSON.stringify(v),
    ]),
  );
}

function renderMarkdown(report: Report): string {
  const m = report.machine;
  const lines = [
    '# Vigil benchmark report',
    '',
    `Updated ${report.updatedAt} on ${m.cpus} (${m.cores} cores, ${m.memoryGb} GB), ${m.platform}, Node ${m.node}.`,
    '',
  ];
  for (const [name, section] of Object.entries(report.suites).sort(([a], [b]) => a.localeCompare(b))) {
    const load = section.loadAverage ? `, machine load average ${section.loadAverage.join(' / ')} (1/5/15 min, ${report.machine.cores} cores)` : '';
    lines.push(`## ${section.result.name} (\`${name}\`)`, '', `Ran ${section.ranAt}, ${section.seconds} s${load}.`, '');
    if (section.result.rows.length > 0) lines.push(...table(section.result.rows), '');
    for (const extra of section.result.tables ?? []) lines.push(`### ${extra.title}`, '', ...table(extra.rows), '');
    for (const note of section.result.notes ?? []) lines.push(`- ${note}`);
    lines.push('');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

function table(rows: BenchRow[]): string[] {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cell = (v: BenchValue | undefined) => (v === undefined || v === null ? '' : String(v).replace(/\|/g, '\\|'));
  return [
    `| ${columns.join(' | ')} |`,
    `| ${columns.map((c) => (rows.every((r) => typeof r[c] === 'number' || r[c] === undefined) ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((row) => `| ${columns.map((c) => cell(row[c])).join(' | ')} |`),
  ];
}
