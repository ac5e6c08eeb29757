/**
 * The short version of `npm run bench:load`: 10 simulated clinicians for 10 seconds against the
 * production build on PostgreSQL. Fails on any error (a non-2xx answer, a page without its
 * content, a write the portal did not confirm) and when an operation never completed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad, type LoadResult } from '@/bench/load/run';
import { startPortal, type RunningPortal } from '@/bench/load/stack';
import { serverTestBuild } from './harness';

const USERS = 10;
const SECONDS = 10;

describe(`load: ${USERS} clinicians for ${SECONDS} s on PostgreSQL`, () => {
  let running: RunningPortal;
  let result: LoadResult;

  beforeAll(async () => {
    running = await startPortal('postgres', serverTestBuild(), { patients: 40, clinicians: USERS, caseload: 20 }, { port: 3700 });
    result = await runLoad({ baseUrl: running.portal.baseUrl, clinicians: running.fixture.clinicians, password: running.fixture.password, users: USERS, seconds: SECONDS, rampSeconds: 2 });
    console.log(
      [`${result.completed} operations in ${result.elapsedSeconds} s (${result.throughput}/s), ${result.errors} errors`, ...result.operations.map((o) => `  ${o.operation}: n=${o.count} p50=${o.p50} p95=${o.p95} p99=${o.p99} ms`)].join('\n'),
    );
  });
  afterAll(async () => {
    await running?.cleanup();
  });

  it('answers every request without an error', () => {
    expect(result.errorMessages).toEqual([]);
    expect(result.errors).toBe(0);
  });

  it('signs every clinician in and completes searches, chart opens and vitals writes', () => {
    const count = Object.fromEntries(result.operations.map((o) => [o.operation, o.count]));
    expect(count['sign in']).toBe(USERS);
    for (const operation of ['search', 'chart open', 'vitals write'] as const) expect(count[operation], operation).toBeGreaterThanOrEqual(USERS);
  });
});
