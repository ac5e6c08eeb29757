/**
 * The trail as several chains: entries spread over chains verify chain by chain, a signed
 * checkpoint (the Merkle root over every chain's head) catches a tail cut from any one chain,
 * and two portal instances that append and checkpoint at the same time never raise a false
 * alarm or move the checkpoint backwards.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, rowsOf, type Db } from '@/db/client';
import { auditLog } from '@/db/schema';
import { appendEntry, AUDIT_CHAINS } from '@/lib/platform/audit/append';
import { checkpointTick, type CheckpointTick } from '@/lib/platform/audit/auto-checkpoint';
import { checkpointOf, readCheckpoint, writeCheckpoint, type TrailMemory } from '@/lib/platform/audit/checkpoint';
import { verifyChain } from '@/lib/platform/audit/verify';
import { asOwnerWithoutTriggers, clearTrail, syntheticEvent } from '@/test/audit-fixtures';
import { testDatabaseKind, type TestDatabase } from '@/test/db';
import { testDatabase } from '@/test/fixtures';

let handle: TestDatabase;
let dir: string;

beforeAll(async () => {
  handle = await testDatabase({ empty: true });
  dir = mkdtempSync(path.join(tmpdir(), 'vigil-chains-'));
});
afterAll(async () => {
  await handle.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `perChain` entries in each of chains 0..chains-1, round robin (PGlite has one connection, so the chain is chosen, not raced for). */
async function spread(db: Db, chains: number, perChain: number): Promise<void> {
  for (let i = 0; i < perChain; i++) {
    for (let c = 0; c < chains; c++) await db.transaction((tx) => appendEntry(tx, syntheticEvent(i * chains + c), { chains: AUDIT_CHAINS, startAt: c }));
  }
}

const lastOf = async (chain: number) =>
  rowsOf<{ n: number }>(await handle.db.execute(sql`SELECT max(chain_seq)::int AS n FROM audit_log WHERE chain = ${chain}`))[0]!.n;

describe(`several audit chains (${testDatabaseKind})`, () => {
  beforeEach(() => clearTrail(handle.db));

  it('verifies each chain and signs the root over all their heads', async () => {
    await spread(handle.db, 4, 5);
    const result = await verifyChain({ pageSize: 3 });
    expect(result).toMatchObject({ ok: true, checked: 20, headSeq: 20 });
    expect(result.heads.map((h) => [h.chain, h.position])).toEqual([[0, 5], [1, 5], [2, 5], [3, 5]]);

    const file = path.join(dir, 'root.json');
    writeCheckpoint(checkpointOf(result, result.checked, new Date().toISOString()), file);
    expect(readCheckpoint(file)).toMatchObject({ status: 'valid', checkpoint: { root: result.root, heads: result.heads } });
    // Lowering one chain's head in the file (to hide a cut) no longer matches the signed root.
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    stored.heads[2].position = 3;
    writeFileSync(file, JSON.stringify(stored));
    expect(readCheckpoint(file).status).toBe('invalid');
  });

  it('detects the last entries of one chain deleted, against the signed root and only with it', async () => {
    await spread(handle.db, 4, 6);
    const signed = await verifyChain();
    const checkpoint = checkpointOf(signed, signed.checked, new Date().toISOString());
    await asOwnerWithoutTriggers(handle.db, ['DELETE FROM audit_log WHERE chain = 2 AND chain_seq > 4']);
    // Every chain is still internally consistent: only the signed heads can tell.
    expect((await verifyChain()).ok).toBe(true);
    const result = await verifyChain({ checkpoint });
    expect(result.break).toMatchObject({ chain: 2, position: 5, seq: null, reason: 'truncated' });
    expect(await verifyChain({ from: checkpoint })).toMatchObject({ ok: false, break: { chain: 2, reason: 'truncated' } });
  });

  it('detects a whole chain deleted, and one regrown after its tail was cut', async () => {
    await spread(handle.db, 3, 4);
    const signed = await verifyChain();
    const checkpoint = checkpointOf(signed, signed.checked, new Date().toISOString());
    await asOwnerWithoutTriggers(handle.db, ['DELETE FROM audit_log WHERE chain = 1']);
    expect((await verifyChain({ checkpoint })).break).toMatchObject({ chain: 1, position: 1, reason: 'truncated' });

    await clearTrail(handle.db);
    await spread(handle.db, 3, 4);
    const again = await verifyChain();
    const before = checkpointOf(again, again.checked, new Date().toISOString());
    await asOwnerWithoutTriggers(handle.db, ['DELETE FROM audit_log WHERE chain = 0 AND chain_seq > 2']);
    await spread(handle.db, 1, 3);
    expect(await lastOf(0)).toBe(5);
    expect((await verifyChain({ checkpoint: before })).break).toMatchObject({ chain: 0, position: 4, reason: 'truncated' });
  });

  it('detects an entry moved from one chain to the end of another', async () => {
    await spread(handle.db, 2, 4);
    const [moved] = await handle.db.select().from(auditLog).where(eq(auditLog.chain, 0)).limit(1);
    await asOwnerWithoutTriggers(handle.db, [`UPDATE audit_log SET chain = 1, chain_seq = 5 WHERE seq = ${moved!.seq}`]);
    const result = await verifyChain();
    expect(result.ok).toBe(false);
    // Chain 0 lost its first entry; whichever chain is walked first names what happened.
    expect(result.break).toMatchObject({ chain: 0, position: 1, reason: 'deleted' });
  });

  // PGlite is one connection: its transactions take turns, so every writer finds chain 0 free.
  if (testDatabaseKind === 'postgres') {
    it('sends a transaction to a free chain while another holds one, and keeps its entries together', async () => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let claimed!: () => void;
      const first = new Promise<void>((resolve) => (claimed = resolve));
      const holder = handle.db.transaction(async (tx) => {
        const record = await appendEntry(tx, syntheticEvent(1), { chains: AUDIT_CHAINS });
        claimed();
        await held;
        return record;
      });
      await first;
      const other = await handle.db.transaction(async (tx) => [
        await appendEntry(tx, syntheticEvent(2), { chains: AUDIT_CHAINS }),
        await appendEntry(tx, syntheticEvent(3), { chains: AUDIT_CHAINS }),
      ]);
      release();
      const mine = await holder;
      expect(mine.chain).toBe(0);
      expect(other.map((r) => [r.chain, r.chainSeq])).toEqual([[1, 1], [1, 2]]);
      expect((await verifyChain()).ok).toBe(true);
    });
  }
});

describe(`two instances appending and checkpointing at once (${testDatabaseKind})`, () => {
  beforeEach(() => clearTrail(handle.db));

  it('take turns on the checkpoint: no false alarm, the checkpoint only moves forward, every chain verifies', { timeout: 300_000 }, async () => {
    // Two instances: on PostgreSQL, two connection pools (as two processes have); each its own memory.
    const second = handle.kind === 'postgres' ? await openDatabase({ url: handle.url!, max: 4 }) : null;
    const instances: Array<{ db: Db; memory: TrailMemory }> = [
      { db: handle.db, memory: {} },
      { db: second?.db ?? handle.db, memory: {} },
    ];
    const file = path.join(dir, `shared-${Date.now()}.json`);
    const ticks: CheckpointTick[] = [];
    const seqs: number[] = [];
    const writtenPerRound: number[] = [];
    let at = Date.parse('2026-06-01T08:00:00Z');
    try {
      const writers = instances.flatMap(({ db }, k) =>
        Array.from({ length: 4 }, async (_, w) => {
          for (let i = 0; i < 60; i++) await db.transaction((tx) => appendEntry(tx, syntheticEvent(i, { details: { k, w, i } }), { chains: AUDIT_CHAINS }));
        }),
      );
      // Both instances tick at the same moment, round after round, while the writers run.
      const checkers = (async () => {
        for (let round = 0; round < 10; round++) {
          // Every round is an hour on: each tick that finds new entries is due to write.
          at += 3_600_000;
          const when = new Date(at);
          const round = await Promise.all(
            instances.map(async ({ db, memory }) => {
              const tick = await checkpointTick({ db, at: when, file, memory });
              const read = readCheckpoint(file);
              if (read.status === 'valid') seqs.push(read.checkpoint.seq);
              return tick;
            }),
          );
          ticks.push(...round);
          writtenPerRound.push(round.filter((t) => t.state === 'written').length);
        }
      })();
      await Promise.all([...writers, checkers]);
      const final = await checkpointTick({ db: instances[0]!.db, at: new Date((at += 3_600_000)), file, memory: instances[0]!.memory });
      ticks.push(final);
    } finally {
      await second?.close();
    }
    expect(ticks.filter((t) => t.state === 'alarm')).toEqual([]);
    // The second tick of a round waits for the first and finds its checkpoint fresh: one writer per round.
    expect(writtenPerRound.every((n) => n <= 1)).toBe(true);
    expect(ticks.filter((t) => t.state === 'written').length).toBeGreaterThan(1);
    const recorded = await handle.db.select({ details: auditLog.details }).from(auditLog).where(eq(auditLog.actionType, 'audit.checkpoint')).orderBy(auditLog.seq);
    const recordedSeqs = recorded.map((r) => (r.details as { seq: number }).seq);
    expect(new Set(recordedSeqs).size).toBe(recordedSeqs.length);
    expect(recordedSeqs).toEqual([...recordedSeqs].sort((a, b) => a - b));
    // Read after each tick, in the order the ticks finished: never lower than the one before.
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const read = readCheckpoint(file);
    if (read.status !== 'valid') throw new Error('the shared checkpoint should be valid');
    const result = await verifyChain({ checkpoint: read.checkpoint });
    expect(result).toMatchObject({ ok: true });
    expect(result.checked).toBe(2 * 4 * 60 + ticks.filter((t) => t.state === 'written').length);
  });
});
