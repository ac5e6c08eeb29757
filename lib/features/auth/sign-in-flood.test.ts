/**
 * Sign-in under an anonymous flood, the short version (bench/sign-in-flood.ts has the 2,000
 * attempts and the timings): guesses at locked and unknown accounts from rotating addresses
 * compute no hash, hashes never run past the cap, the trail gains one entry per source per
 * interval with the count, and a chart view during the flood still opens.
 */
import { and, eq, gt, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, users } from '@/db/schema';
import { DEMO_PASSWORD } from '@/db/seed';
import { auditActions } from '@/lib/domain/audit/actions';
import { flushRefusals, REFUSAL_INTERVAL_MS } from '@/lib/platform/audit';
import { hashPolicy, lockoutPolicy } from '@/lib/features/credentials/config';
import { hashQueueStats, resetHashQueuePeak, verifySignInPassword, hashPassword } from '@/lib/features/credentials/passwords';
import { signInWithPassword } from '@/lib/features/auth/login';
import { getChart } from '@/lib/features/records';
import { auditHead, createStaff, later, minutes, patientOnTeamOf, testDatabase, viewer } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';

// The start of a refusal interval, so every attempt below falls in one.
const T0 = new Date(Math.ceil(new Date('2026-04-01T08:00:00Z').getTime() / REFUSAL_INTERVAL_MS) * REFUSAL_INTERVAL_MS);
const SOURCES = 40;
const PER_SOURCE = 10; // under the per-address throttle, so every attempt reaches the account checks
let handle: TestDatabase;
const locked: string[] = [];
const guessed: string[] = [];

beforeAll(async () => {
  handle = await testDatabase({ patients: 12 });
  for (let i = 0; i < 4; i++) locked.push((await createStaff(handle.db, { roles: ['nurse'], email: `locked-${i}@flood.vigil.test` })).email);
  for (let i = 0; i < 4; i++) guessed.push((await createStaff(handle.db, { roles: ['nurse'], email: `guessed-${i}@flood.vigil.test` })).email);
  await handle.db.update(users).set({ lockedUntil: later(T0, minutes(60)) }).where(inArray(users.email, locked));
});
afterAll(async () => handle?.close());

const address = (i: number) => `198.18.${Math.floor(i / 250)}.${(i % 250) + 1}`;
const attempt = (email: string, i: number, password = 'Wrong-password-1') =>
  signInWithPassword({ email, password }, { ip: address(i % SOURCES), userAgent: 'flood' }, { at: later(T0, i) });

async function loginEntriesSince(since: number) {
  return handle.db
    .select()
    .from(auditLog)
    .where(and(gt(auditLog.seq, since), eq(auditLog.actionType, auditActions.auth.login)));
}

describe('a sign-in flood', () => {
  it('against locked and unknown accounts computes no hash and adds one entry per source with the count', async () => {
    const since = await auditHead(handle.db);
    const before = hashQueueStats().computed;
    const attempts = SOURCES * PER_SOURCE;
    const results = await Promise.all(
      Array.from({ length: attempts }, (_, i) => attempt(i % 2 ? locked[i % locked.length]! : `nobody-${i}@flood.vigil.test`, i, i % 4 === 1 ? DEMO_PASSWORD : undefined)),
    );
    expect(results.every((r) => !r.ok && r.reason === 'invalid')).toBe(true);
    expect(hashQueueStats().computed - before).toBe(0);

    await flushRefusals({ all: true });
    const entries = await loginEntriesSince(since);
    expect(entries.length).toBeLessThanOrEqual(SOURCES);
    expect(new Set(entries.map((e) => e.ip)).size).toBe(entries.length);
    const total = entries.reduce((n, e) => n + ((e.details as { count?: number }).count ?? 0), 0);
    expect(total).toBe(attempts);
    expect(entries.every((e) => e.outcome === 'denied' && e.userId === null && (e.details as { aggregated?: boolean }).aggregated)).toBe(true);
    const reasons = (reason: string) => entries.reduce((n, e) => n + ((e.details as { reasons: Record<string, number> }).reasons[reason] ?? 0), 0);
    expect([reasons('locked'), reasons('unknown_user')]).toEqual([attempts / 2, attempts / 2]);
    // A locked account's lock is neither extended nor counted against.
    const rows = await handle.db.select().from(users).where(inArray(users.email, locked));
    expect(rows.every((u) => u.failedLogins === 0 && u.lockedUntil?.getTime() === later(T0, minutes(60)).getTime())).toBe(true);
  });

  it('against real accounts keeps hashes at the cap, refuses beyond the queue, and a chart view still opens', async () => {
    const nurse = await viewer(handle.db, 'nurse@vigil.test');
    const patientId = await patientOnTeamOf(handle.db, nurse.userId);
    resetHashQueuePeak();
    const before = hashQueueStats();
    const guesses = guessed.length * lockoutPolicy.maxFailures;
    const flood = Promise.all(Array.from({ length: guesses }, (_, i) => attempt(guessed[i % guessed.length]!, SOURCES * PER_SOURCE + i)));
    const chart = await getChart(nurse, patientId);
    const results = await flood;

    expect(chart.ok).toBe(true);
    const after = hashQueueStats();
    expect(after.peakRunning).toBeLessThanOrEqual(hashPolicy.maxConcurrent);
    const busy = results.filter((r) => !r.ok && r.reason === 'busy').length;
    expect(after.computed - before.computed).toBe(guesses - busy);
    expect(results.every((r) => !r.ok && (r.reason === 'invalid' || r.reason === 'busy'))).toBe(true);
  });

  it('refuses a sign-in at once, unchecked, when the queue is full', async () => {
    const hash = await hashPassword(DEMO_PASSWORD);
    resetHashQueuePeak();
    const checks = await Promise.all(Array.from({ length: hashPolicy.maxConcurrent + hashPolicy.maxWaiting + 8 }, () => verifySignInPassword(hash, 'Wrong-password-1')));
    expect(checks.filter((c) => c === 'busy').length).toBeGreaterThanOrEqual(8);
    expect(checks.filter((c) => c === false).length).toBeGreaterThanOrEqual(hashPolicy.maxWaiting);
    expect(hashQueueStats().peakRunning).toBeLessThanOrEqual(hashPolicy.maxConcurrent);
  });
});
