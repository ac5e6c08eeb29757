/**
 * Simulated clinicians against a running portal: each signs in, then until the deadline searches
 * its patients by last name, opens a chart from the results and records a set of vitals on it
 * (closed loop, optional think time; a round begun before the deadline is finished). Latency is
 * measured per operation from the request's start to the last byte of the response; any non-2xx
 * answer, failed request or page without its expected content is an error. The loops stop by
 * themselves at the deadline.
 */
import { ClinicianClient, PortalError, type PatientLink, type VitalsValues } from './client';

export const OPERATIONS = ['sign in', 'patient list', 'search', 'chart open', 'vitals write'] as const;
export type Operation = (typeof OPERATIONS)[number];

export interface LoadOptions {
  baseUrl: string;
  /** Accounts, one per simulated clinician (reused round-robin if fewer than `users`). */
  clinicians: string[];
  password: string;
  users: number;
  seconds: number;
  /** Users start evenly spread over this many seconds (all sign-ins at one instant is not a ward). */
  rampSeconds?: number;
  /** Pause after each operation, per user. */
  thinkMs?: number;
  /** Each user's operations are chosen from this seed (reproducible runs). */
  seed?: number;
  onProgress?: (line: string) => void;
}

export interface OperationStats {
  operation: Operation;
  count: number;
  errors: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

export interface LoadResult {
  users: number;
  seconds: number;
  /** Wall time from the first user's start to the last user's end. */
  elapsedSeconds: number;
  operations: OperationStats[];
  completed: number;
  errors: number;
  /** Completed operations per second over the whole run. */
  throughput: number;
  /** Successful vitals writes per second. */
  writesPerSecond: number;
  /** Distinct error messages with their counts (no PHI: operation, status, our own wording). */
  errorMessages: Array<{ message: string; count: number }>;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** A small deterministic PRNG (mulberry32), so two runs make the same choices. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function plausibleVitals(rand: () => number): VitalsValues {
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  return {
    heartRate: int(55, 110),
    systolic: int(100, 150),
    diastolic: int(60, 95),
    temperatureC: Math.round((36 + rand() * 2) * 10) / 10,
    respiratoryRate: int(12, 22),
    spo2: int(92, 100),
  };
}

const round = (value: number | null) => (value === null ? null : Math.round(value * 10) / 10);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latencies = new Map<Operation, number[]>(OPERATIONS.map((op) => [op, []]));
  const errorCounts = new Map<Operation, number>(OPERATIONS.map((op) => [op, 0]));
  const messages = new Map<string, number>();
  const rampMs = (options.rampSeconds ?? Math.min(5, options.seconds / 4)) * 1000;
  const thinkMs = options.thinkMs ?? 0;
  const started = performance.now();
  const deadline = started + options.seconds * 1000;

  const countError = (operation: Operation, message: string) => {
    errorCounts.set(operation, errorCounts.get(operation)! + 1);
    messages.set(message, (messages.get(message) ?? 0) + 1);
  };

  async function timed<T>(operation: Operation, work: () => Promise<T>): Promise<T | undefined> {
    const t0 = performance.now();
    try {
      const value = await work();
      latencies.get(operation)!.push(performance.now() - t0);
      return value;
    } catch (error) {
      countError(operation, error instanceof PortalError ? error.message : `${operation}: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    } finally {
      if (thinkMs) await sleep(thinkMs);
    }
  }

  async function clinician(index: number): Promise<void> {
    await sleep((rampMs * index) / Math.max(1, options.users));
    const rand = random((options.seed ?? 1) * 7919 + index);
    const client = new ClinicianClient(options.baseUrl);
    const email = options.clinicians[index % options.clinicians.length]!;
    let caseload: PatientLink[] = [];
    // Every clinician finishes at least one round (on a slow machine sign-in alone can take
    // seconds), within twice the run's length at most.
    let rounds = 0;
    const goOn = () => performance.now() < deadline || (rounds === 0 && performance.now() < deadline + options.seconds * 1000);
    while (goOn()) {
      if (!client.signedIn) {
        await timed('sign in', () => client.signIn(email, options.password));
        if (!client.signedIn) {
          await sleep(1000);
          continue;
        }
      }
      if (caseload.length === 0) {
        caseload = (await timed('patient list', () => client.searchPatients('', 'patient list'))) ?? [];
        if (caseload.length === 0) {
          await sleep(1000);
          continue;
        }
      }
      const wanted = caseload[Math.floor(rand() * caseload.length)]!;
      const lastName = wanted.name.split(',')[0]!.trim();
      const found = await timed('search', () => client.searchPatients(lastName));
      if (!found) continue;
      const patient = found.find((p) => p.id === wanted.id) ?? found[0];
      if (!patient) {
        countError('search', 'search: a patient from the list was not found by last name');
        continue;
      }
      // A search, once made, is followed through (chart, vitals) even past the deadline.
      const chart = await timed('chart open', () => client.openChart(patient.id));
      if (!chart) continue;
      await timed('vitals write', () => client.recordVitals(patient.id, chart, plausibleVitals(rand)));
      rounds++;
    }
  }

  const progress = setInterval(() => {
    const done = [...latencies.values()].reduce((n, l) => n + l.length, 0);
    const failed = [...errorCounts.values()].reduce((n, c) => n + c, 0);
    options.onProgress?.(`${Math.round((performance.now() - started) / 1000)}s: ${done} operations, ${failed} errors`);
  }, 10_000);
  try {
    await Promise.all(Array.from({ length: options.users }, (_, i) => clinician(i)));
  } finally {
    clearInterval(progress);
  }
  const elapsedSeconds = (performance.now() - started) / 1000;

  const operations = OPERATIONS.map((operation): OperationStats => {
    const sorted = [...latencies.get(operation)!].sort((a, b) => a - b);
    return {
      operation,
      count: sorted.length,
      errors: errorCounts.get(operation)!,
      p50: round(percentile(sorted, 50)),
      p95: round(percentile(sorted, 95)),
      p99: round(percentile(sorted, 99)),
      max: round(sorted.at(-1) ?? null),
      mean: round(sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : null),
    };
  });
  const completed = operations.reduce((n, o) => n + o.count, 0);
  const errors = operations.reduce((n, o) => n + o.errors, 0);
  return {
    users: options.users,
    seconds: options.seconds,
    elapsedSeconds: Math.round(elapsedSeconds * 10) / 10,
    operations,
    completed,
    errors,
    throughput: Math.round((completed / elapsedSeconds) * 10) / 10,
    writesPerSecond: Math.round((latencies.get('vitals write')!.length / elapsedSeconds) * 10) / 10,
    errorMessages: [...messages].map(([message, count]) => ({ message, count })).sort((a, b) => b.count - a.count),
  };
}
