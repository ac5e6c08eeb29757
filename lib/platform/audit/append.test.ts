import { randomUUID } from 'node:crypto';
import { eq, sql, type SQL } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, rowsOf, type Db } from '@/db/client';
import { auditLog } from '@/db/schema';
import { appendOne, chainRows, clearTrail, syntheticEvent } from '@/test/audit-fixtures';
import { appRoleUrl, testDatabaseKind, type TestDatabase } from '@/test/db';
import { testDatabase } from '@/test/fixtures';
import { recordAudit } from '@/lib/platform/audit/append';
import { normaliseIp } from '@/lib/platform/audit/ip';
import { verifyChain } from '@/lib/platform/audit/verify';

let handle: TestDatabase;

/** Drizzle wraps driver errors ("Failed query: …"); the database's own message is the cause. */
async function expectRefused(query: Promise<unknown>, pattern: RegExp, label?: string): Promise<void> {
  const error = await query.then(
    () => null,
    (e: unknown) => e as Error & { cause?: Error },
  );
  expect(error, label).not.toBeNull();
  expect(`${error!.message} ${error!.cause?.message ?? ''}`, label).toMatch(pattern);
}

async function queryRows<T>(db: Db, query: SQL): Promise<T[]> {
  return rowsOf<T>(await db.execute(query));
}

beforeAll(async () => {
  handle = await testDatabase({ empty: true });
});
afterAll(() => handle.close());

/** Input → the text PostgreSQL prints for it as `inet` (null: not stored). */
const addresses: Array<[string, string | null]> = [
  ['127.0.0.1', '127.0.0.1'],
  [' 10.1.2.3 ', '10.1.2.3'],
  ['0:0:0:0:0:0:0:1', '::1'],
  ['::1', '::1'],
  ['::', '::'],
  ['1::', '1::'],
  ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
  ['2001:0db8:0000:0001:0000:0000:0000:0001', '2001:db8:0:1::1'],
  ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
  ['2001:db8:1:1:1:1:1:0', '2001:db8:1:1:1:1:1:0'],
  ['[2001:db8::1]', '2001:db8::1'],
  ['fe80::1%eth0', 'fe80::1'],
  ['::ffff:192.0.2.7', '192.0.2.7'],
  ['::FFFF:c000:0207', '192.0.2.7'],
  ['0:0:0:0:0:ffff:1.2.3.4', '1.2.3.4'],
  ['::1.2.3.4', '::1.2.3.4'],
  ['::102:304', '::1.2.3.4'],
  ['::ffff:0:1.2.3.4', '::ffff:0:102:304'],
  ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ['not-an-ip', null],
  ['1.2.3.4/24', null],
  ['1.2.3.256', null],
  ['2001:db8::1::2', null],
  ['12345::', null],
  ['1.2.3.4::', null],
  ['', null],
];

describe(`recordAudit (${testDatabaseKind})`, () => {
  beforeEach(() => clearTrail(handle.db));

  it('stores every IPv4, IPv6 and mapped form exactly as PostgreSQL prints it, so re-read rows verify', async () => {
    for (const [input, expected] of addresses) {
      expect(normaliseIp(input), input).toBe(expected);
      if (expected === null) continue;
      const [printed] = await queryRows<{ ip: string }>(handle.db, sql`SELECT ${expected}::inet AS ip`);
      expect(printed!.ip, input).toBe(expected);
    }
    for (const [input] of addresses) await appendOne(handle.db, syntheticEvent(0, { actor: { userId: null, ip: input } }));
    const rows = await chainRows(handle.db);
    expect(rows.map((r) => r.ip)).toEqual(addresses.map(([, expected]) => expected));
    expect(await verifyChain()).toMatchObject({ ok: true, checked: addresses.length });
  });

  it('stores ids, text and details in the form they are read back in', async () => {
    const patientId = randomUUID().toUpperCase();
    await appendOne(handle.db, {
      ...syntheticEvent(1),
      actor: { userId: randomUUID().toUpperCase(), ip: '::1', userAgent: `Agent\u0000 \ud800 ${'x'.repeat(600)}`, roles: ['physician'] },
      patientId,
      details: { when: new Date('2026-01-02T03:04:05.678Z'), missing: undefined, list: [undefined, 1], z: 1, a: { c: 2, b: 1 } },
    });
    const [row] = await chainRows(handle.db);
    expect(row!.patientId).toBe(patientId.toLowerCase());
    expect(row!.userAgent!.length).toBe(512);
    expect(row!.details).toEqual({ when: '2026-01-02T03:04:05.678Z', list: [null, 1], z: 1, a: { c: 2, b: 1 }, actorRoles: ['physician'] });
    expect((await verifyChain()).ok).toBe(true);
  });

  it('refuses an id that is not a uuid, so nothing is logged under no one', async () => {
    await expect(appendOne(handle.db, syntheticEvent(0, { patientId: 'not-a-uuid' }))).rejects.toThrow(/not a uuid/);
    expect(await chainRows(handle.db)).toHaveLength(0);
  });

  // PGlite is one connection, so its writers take turns anyway: a smaller run proves the same
  // there. On PostgreSQL the eight writers hold their own pooled connections and race for real.
  const perWriter = testDatabaseKind === 'postgres' ? 1_000 : 200;
  it(`8 concurrent writers appending ${perWriter} entries each leave unbroken chains of ${8 * perWriter} entries`, { timeout: 600_000 }, async () => {
    const writers = 8;
    await Promise.all(
      Array.from({ length: writers }, async (_, writer) => {
        for (let i = 0; i < perWriter; i++) {
          await appendOne(handle.db, syntheticEvent(i, { details: { writer, i } }));
        }
      }),
    );
    const result = await verifyChain({ pageSize: 2_000 });
    expect(result).toMatchObject({ ok: true, checked: writers * perWriter, headSeq: writers * perWriter });

    const rows = await handle.db.select({ seq: auditLog.seq, chain: auditLog.chain, details: auditLog.details }).from(auditLog).orderBy(auditLog.seq);
    const byWriter = new Map<number, number[]>();
    for (const row of rows) {
      const { writer, i } = row.details as { writer: number; i: number };
      byWriter.set(writer, [...(byWriter.get(writer) ?? []), i]);
    }
    // Every writer's entries are all there, in the order that writer made them.
    for (let w = 0; w < writers; w++) expect(byWriter.get(w)).toEqual(Array.from({ length: perWriter }, (_, i) => i));
    if (handle.kind === 'postgres') {
      // Real concurrency on a pool: the writers' entries interleave, and spread over several
      // chains (each verified above), because a busy chain sends the next writer to a free one.
      const switches = rows.filter((row, k) => k > 0 && (row.details as { writer: number }).writer !== (rows[k - 1]!.details as { writer: number }).writer).length;
      expect(switches).toBeGreaterThan(writers * 10);
      expect(new Set(rows.map((r) => r.chain)).size).toBeGreaterThan(1);
      expect(result.heads.length).toBe(new Set(rows.map((r) => r.chain)).size);
    }
  });
});

// PostgreSQL only: PGlite has one connection and no pooler.
if (testDatabaseKind === 'postgres') describe('the trail through connections with and without named statements (postgres)', () => {
  beforeEach(() => clearTrail(handle.db));

  // The append's statements are prepared once per connection; a deployment behind a pooler
  // that cannot carry prepared statements sets ?prepare=false, and postgres.js then sends them
  // unnamed. Both ways, the trail must be the same. One connection each, so the count of
  // prepared statements is that connection's.
  it('appends and verifies with named statements, and with ?prepare=false on the URL without them', async () => {
    const unnamedUrl = new URL(handle.url!);
    unnamedUrl.searchParams.set('prepare', 'false');
    const prepared = await openDatabase({ url: handle.url!, max: 1 });
    const unprepared = await openDatabase({ url: unnamedUrl.toString(), max: 1 });
    const namedStatements = async (db: Db) => Number((await queryRows<{ n: string | number }>(db, sql`SELECT count(*) AS n FROM pg_prepared_statements`))[0]!.n);
    try {
      for (let i = 0; i < 6; i++) await (i % 2 ? unprepared : prepared).db.transaction((tx) => recordAudit(tx, syntheticEvent(i)));
      expect(await verifyChain({ db: unprepared.db })).toMatchObject({ ok: true, checked: 6 });
      expect(await verifyChain({ db: prepared.db })).toMatchObject({ ok: true, checked: 6 });
      expect(await namedStatements(unprepared.db)).toBe(0);
      expect(await namedStatements(prepared.db)).toBeGreaterThanOrEqual(2);
    } finally {
      await prepared.close();
      await unprepared.close();
    }
  });
});

describe(`audit_log is append-only for the application (${testDatabaseKind})`, () => {
  beforeAll(async () => {
    await clearTrail(handle.db);
    await appendOne(handle.db, syntheticEvent(1));
  });

  it.each(['UPDATE audit_log SET outcome = $$denied$$', 'DELETE FROM audit_log', 'TRUNCATE audit_log'])(
    'the trigger refuses %s even for the table owner',
    async (statement) => {
      await expectRefused(handle.db.execute(sql.raw(statement)), /append-only/);
      expect(await chainRows(handle.db)).toHaveLength(1);
    },
  );

  // Only PostgreSQL has roles; on PGlite the trigger tests above are the whole story, so the
  // test is not declared there at all (rather than reported as skipped).
  if (testDatabaseKind === 'postgres') it('the app role may append and read, never update, delete, truncate or disable triggers', async () => {
    const url = appRoleUrl(handle.url!);
    expect(url, 'VIGIL_TEST_APP_DATABASE_URL must name the vigil_app role').toBeDefined();
    const app = await openDatabase({ url, max: 2 });
    try {
      const [who] = await queryRows<{ name: string }>(app.db, sql`SELECT current_user AS name`);
      expect(who!.name).toBe('vigil_app');
      await app.db.transaction((tx) => recordAudit(tx, syntheticEvent(2)));
      expect(await app.db.select().from(auditLog)).toHaveLength(2);
      expect((await verifyChain({ db: app.db })).ok).toBe(true);
      for (const statement of [
        `UPDATE audit_log SET outcome = 'denied' WHERE seq = 1`,
        'DELETE FROM audit_log WHERE seq = 1',
        'TRUNCATE audit_log',
        'ALTER TABLE audit_log DISABLE TRIGGER USER',
      ]) {
        await expectRefused(app.db.execute(sql.raw(statement)), /permission denied|must be owner/, statement);
      }
      const rows = await app.db.select().from(auditLog).where(eq(auditLog.seq, 1));
      expect(rows[0]!.outcome).toBe('allowed');
    } finally {
      await app.close();
    }
  });
});
