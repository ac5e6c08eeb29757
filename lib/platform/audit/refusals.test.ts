/**
 * The refusal tally: anonymous refusals become one chained entry per source, action and
 * interval, written only when the interval closes, in one transaction; a flood from more
 * sources than the bound shares one line, so memory stays bounded.
 */
import { and, eq, gt } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog } from '@/db/schema';
import { auditActions } from '@/lib/domain/audit/actions';
import { flushRefusals, pendingRefusals, REFUSAL_INTERVAL_MS, tallyRefusal } from '@/lib/platform/audit';
import { MAX_TALLIED_SOURCES } from '@/lib/platform/audit/refusals';
import { verifyChain } from '@/lib/platform/audit/verify';
import { auditHead, testDatabase } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';

let handle: TestDatabase;
beforeAll(async () => {
  handle = await testDatabase({ empty: true });
});
afterAll(() => handle?.close());

// An interval in the past, aligned to its start.
const START = Math.floor(new Date('2026-05-01T10:00:00Z').getTime() / REFUSAL_INTERVAL_MS) * REFUSAL_INTERVAL_MS;
const at = (ms: number) => new Date(START + ms);
const refusal = (source: string, reason: string, ms: number) =>
  tallyRefusal({ action: auditActions.auth.login, resourceType: 'session', source, ip: source, reason, at: at(ms) });

const entriesSince = (since: number) =>
  handle.db.select().from(auditLog).where(and(gt(auditLog.seq, since), eq(auditLog.actionType, auditActions.auth.login)));

describe('refused requests tallied per source and interval', () => {
  it('writes nothing until the interval closes, then one entry per source with the count and reasons', async () => {
    const since = await auditHead(handle.db);
    for (let i = 0; i < 25; i++) refusal('192.0.2.1', i % 5 ? 'unknown_user' : 'locked', i * 1_000);
    refusal('192.0.2.2', 'ip_throttled', 30_000);
    refusal('192.0.2.1', 'unknown_user', REFUSAL_INTERVAL_MS + 1); // the next interval

    expect(await flushRefusals({ upTo: at(REFUSAL_INTERVAL_MS - 1) })).toBe(0);
    expect(await entriesSince(since)).toEqual([]);
    expect(await flushRefusals({ upTo: at(REFUSAL_INTERVAL_MS) })).toBe(2);
    const entries = await entriesSince(since);
    expect(entries.map((e) => [e.ip, e.outcome, (e.details as { count: number }).count]).sort()).toEqual([
      ['192.0.2.1', 'denied', 25],
      ['192.0.2.2', 'denied', 1],
    ]);
    expect(entries.find((e) => e.ip === '192.0.2.1')!.details).toMatchObject({
      aggregated: true,
      reasons: { locked: 5, unknown_user: 20 },
      from: at(0).toISOString(),
      to: at(24_000).toISOString(),
    });
    expect(pendingRefusals()).toBe(1);
    await flushRefusals({ upTo: at(2 * REFUSAL_INTERVAL_MS) });
    expect(await entriesSince(since)).toHaveLength(3);
    expect((await verifyChain({ db: handle.db })).ok).toBe(true);
  });

  it(`folds sources beyond ${MAX_TALLIED_SOURCES} into one line that counts them`, async () => {
    const since = await auditHead(handle.db);
    const base = 3 * REFUSAL_INTERVAL_MS;
    const extra = 25;
    for (let i = 0; i < MAX_TALLIED_SOURCES + extra; i++) {
      tallyRefusal({ action: auditActions.api.phiVitals, resourceType: 'api_client', source: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, reason: 'unauthenticated', at: at(base) });
    }
    expect(pendingRefusals()).toBe(MAX_TALLIED_SOURCES + extra);
    await flushRefusals({ upTo: at(base + REFUSAL_INTERVAL_MS) });
    const entries = await handle.db.select().from(auditLog).where(and(gt(auditLog.seq, since), eq(auditLog.actionType, auditActions.api.phiVitals)));
    expect(entries).toHaveLength(MAX_TALLIED_SOURCES + 1);
    expect(entries.find((e) => (e.details as { source?: string }).source === 'many')?.details).toMatchObject({ count: extra, sources: extra });
  });
});
