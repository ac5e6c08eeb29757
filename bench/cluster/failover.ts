/**
 * Failover under load: clinicians record vitals through the balancer, the PostgreSQL primary is
 * killed (`kill -9` of the postmaster) and the synchronous standby promoted (`pg_ctl promote`,
 * scripted at once: the window measured is the portal's, not a failure detector's). Every answer
 * is kept: which writes were acknowledged ("Saved."), and what a refused request showed (a plain
 * "try again", never a stack trace). The checks after it are in ./checks.ts.
 */
import { patientLinks, type VitalsValues } from '@/bench/load/client';
import { SessionBrowser } from './browser';
import type { ReplicatedPostgres } from './replication';

export interface WriteAttempt {
  email: string;
  startedAt: number;
  endedAt: number;
  acknowledged: boolean;
  patientId: string;
  /** What was sent: a writer's n-th reading, recognisable afterwards (see `reading`). */
  reading: VitalsValues;
  status: number | null;
  /** Where it stopped: opening the chart (a page render) or posting the vitals form (the write). */
  step: 'chart' | 'write';
  /** For a failure: the page told the user to try again. */
  saysTryAgain: boolean;
  /** For a failure: the page carries something that looks like a stack trace or an error's internals. */
  leaksInternals: boolean;
}

export interface FailoverReport {
  attempts: WriteAttempt[];
  killedAt: number;
  promotedAt: number;
  /** From the kill to the end of the last failed request. */
  windowSeconds: number;
  /** From the kill to the first acknowledged write begun after it. */
  firstSuccessAfterSeconds: number | null;
  acknowledged: Map<string, number>;
  failed: number;
}

// "at f (file:line)", "at file:line", a Node error name with its message, or a query's text.
const INTERNALS = /\n\s+at \S+|\bat [^\s]+:\d+:\d+|\b(TypeError|ReferenceError|PostgresError|ECONNREFUSED|ECONNRESET|CONNECTION_CLOSED)\b|\bSELECT\b.*\bFROM\b/;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A writer's n-th reading: heart rate and systolic encode n, so each write can be found again. */
export const reading = (n: number): VitalsValues => ({
  heartRate: 30 + (n % 200),
  systolic: 60 + Math.floor(n / 200),
  diastolic: 70,
  temperatureC: 36.8,
  respiratoryRate: 16,
  spo2: 97,
});

/** One clinician recording vitals in a loop until `stop()`; every attempt is kept. */
async function writer(baseUrl: string, email: string, password: string, seed: number, attempts: WriteAttempt[], running: () => boolean): Promise<void> {
  const browser = new SessionBrowser(baseUrl);
  await browser.signIn(email, password);
  const list = await browser.get('/patients');
  const patients = patientLinks(list.text);
  if (patients.length === 0) throw new Error(`${email} has no patients.`);
  for (let n = 0; running(); n++) {
    const patient = patients[(seed + n) % patients.length]!;
    const values = reading(n);
    const startedAt = performance.now();
    let acknowledged = false;
    let status: number | null = null;
    let text = '';
    let step: 'chart' | 'write' = 'chart';
    try {
      const chart = await browser.get(`/patients/${patient.id}`);
      status = chart.status;
      text = chart.text;
      if (chart.status === 200 && chart.text.includes('data-testid="vitals-form"')) {
        step = 'write';
        const fields = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)]));
        const reply = await browser.submit(`/patients/${patient.id}`, chart.text, 'data-testid="vitals-form"', fields);
        status = reply.status;
        text = reply.text;
        acknowledged = reply.status === 200 && reply.text.includes('Saved.');
      }
    } catch (error) {
      text = error instanceof Error ? error.message : String(error);
    }
    attempts.push({
      email,
      startedAt,
      endedAt: performance.now(),
      acknowledged,
      patientId: patient.id,
      reading: values,
      status,
      step,
      saysTryAgain: /try again/i.test(text),
      leaksInternals: !acknowledged && INTERNALS.test(text),
    });
    if (!acknowledged) await sleep(200);
  }
}

export async function failoverUnderLoad(options: {
  baseUrl: string;
  database: ReplicatedPostgres;
  clinicians: string[];
  password: string;
  /** Writing before the kill. */
  warmupMs: number;
  /** After the promotion: stop once every writer has had a write acknowledged, or after this long. */
  recoverMs: number;
  log?: (line: string) => void;
}): Promise<FailoverReport> {
  const attempts: WriteAttempt[] = [];
  let running = true;
  const writers = options.clinicians.map((email, i) => writer(options.baseUrl, email, options.password, i * 3, attempts, () => running));
  const failed = Promise.race(writers.map((w) => w.then(() => new Promise<never>(() => {}))));
  await Promise.race([sleep(options.warmupMs), failed]);
  const killedAt = performance.now();
  const pid = options.database.killPrimary();
  options.log?.(`kill -9 ${pid} (the primary's postmaster) after ${attempts.filter((a) => a.acknowledged).length} acknowledged writes`);
  options.database.promoteStandby();
  const promotedAt = performance.now();
  options.log?.(`standby promoted ${((promotedAt - killedAt) / 1000).toFixed(1)} s after the kill`);
  const deadline = promotedAt + options.recoverMs;
  const recovered = () => options.clinicians.every((email) => attempts.some((a) => a.email === email && a.acknowledged && a.startedAt > promotedAt));
  while (performance.now() < deadline && !recovered()) await sleep(250);
  await sleep(1_000);
  running = false;
  await Promise.all(writers);

  const failures = attempts.filter((a) => !a.acknowledged);
  const lastFailure = Math.max(killedAt, ...failures.filter((a) => a.endedAt >= killedAt).map((a) => a.endedAt));
  const firstSuccess = attempts.filter((a) => a.acknowledged && a.startedAt > killedAt).sort((a, b) => a.startedAt - b.startedAt)[0];
  const acknowledged = new Map<string, number>();
  for (const a of attempts) if (a.acknowledged) acknowledged.set(a.email, (acknowledged.get(a.email) ?? 0) + 1);
  return {
    attempts,
    killedAt,
    promotedAt,
    windowSeconds: Math.round((lastFailure - killedAt) / 100) / 10,
    firstSuccessAfterSeconds: firstSuccess ? Math.round((firstSuccess.endedAt - killedAt) / 100) / 10 : null,
    acknowledged,
    failed: failures.length,
  };
}
