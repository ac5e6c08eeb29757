/** What a benchmark suite (bench/<name>.ts, `export async function run()`) returns. */
export type BenchValue = string | number | boolean | null;
export type BenchRow = Record<string, BenchValue>;

export interface BenchTable {
  title: string;
  rows: BenchRow[];
}

export interface BenchResult {
  /** The suite's section title in the report. */
  name: string;
  /** The main table: one row per thing measured, one column per metric. */
  rows: BenchRow[];
  /** Further tables, each under its own title. */
  tables?: BenchTable[];
  /** Sentences under the tables: ratios, targets met or missed, how it was measured. */
  notes?: string[];
}

export interface Sample {
  wallMs: number;
  cpuMs: number;
}

/** Times one async piece of work: wall-clock and this process's CPU time (PGlite runs in-process). */
export async function timed(work: () => Promise<unknown>): Promise<Sample> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await work();
  const used = process.cpuUsage(cpu);
  return { wallMs: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
}

/** The p-th quantile (0..1) by nearest rank. */
export function quantile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export const round = (value: number, digits = 3) => {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
};
