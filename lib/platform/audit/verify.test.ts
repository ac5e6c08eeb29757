import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getKeyProvider, setKeyProvider } from '@/lib/platform/crypto';
import { testDatabaseKind, type TestDatabase } from '@/test/db';
import { installTestKeys, testDatabase } from '@/test/fixtures';
import {
  appendMany,
  appendOne,
  asOwnerWithoutTriggers,
  chainRows,
  clearTrail,
  shiftSeqStatements,
  swapSeqStatements,
  syntheticEvent,
} from '@/test/audit-fixtures';
import { checkpointOf, readCheckpoint, writeCheckpoint, type Checkpoint } from '@/lib/platform/audit/checkpoint';
import { describeVerification, verifyChain } from '@/lib/platform/audit/verify';

const CHAIN = 30;
let handle: TestDatabase;
let dir: string;

beforeAll(async () => {
  handle = await testDatabase({ empty: true });
  dir = mkdtempSync(path.join(tmpdir(), 'vigil-audit-'));
});
afterAll(async () => {
  await handle.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  await clearTrail(handle.db);
  await appendMany(handle.db, CHAIN);
});

const hashOf = async (seq: number) => (await chainRows(handle.db)).find((r) => r.seq === seq)!.hash;
const fakeHash = (text: string) => createHash('sha256').update(text).digest('hex');

async function checkpointAtHead(): Promise<Checkpoint> {
  const result = await verifyChain();
  return checkpointOf(result, result.checked, new Date().toISOString());
}

/** A forged row with every column filled, as an attacker without the chain key would write it. */
function forgedRowSql(seq: number, prevHash: string): string {
  return `INSERT INTO audit_log (seq, chain, chain_seq, log_id, user_id, action_type, resource_type, resource_id, patient_id, occurred_at,
      ip, user_agent, outcome, details, prev_hash, hash)
    VALUES (${seq}, 0, ${seq}, '${randomUUID()}', '${randomUUID()}', 'chart.view', 'patient', NULL, NULL, now(), '10.9.9.9',
      'curl', 'allowed', '{}', '${prevHash}', '${fakeHash(`forged ${seq}`)}')`;
}

describe(`audit chain verifier (${testDatabaseKind})`, () => {
  it('accepts an intact chain and reports its count and head', async () => {
    const result = await verifyChain();
    expect(result).toMatchObject({ ok: true, checked: CHAIN, headSeq: CHAIN, break: null, partial: false });
    expect(result.heads).toEqual([{ chain: 0, position: CHAIN, hash: await hashOf(CHAIN) }]);
    expect(describeVerification(result)).toBe(`OK: ${CHAIN} entries in 1 chain up to seq ${CHAIN}, root ${result.root}`);
  });

  it('walks in pages and reports progress', async () => {
    const progress: number[] = [];
    const result = await verifyChain({ pageSize: 7, onProgress: (done, total) => progress.push(done, total) });
    expect(result.ok).toBe(true);
    expect(progress).toEqual([7, 30, 14, 30, 21, 30, 28, 30, 30, 30]);
  });

  it('detects one edited field of one entry', async () => {
    await asOwnerWithoutTriggers(handle.db, [`UPDATE audit_log SET user_agent = 'edited' WHERE seq = 12`]);
    const result = await verifyChain();
    expect(result.ok).toBe(false);
    expect(result.break).toMatchObject({ chain: 0, position: 12, seq: 12, reason: 'edited' });
    expect(result.headSeq).toBe(11);
  });

  it('detects an edit whose hash was recomputed without the chain key', async () => {
    await asOwnerWithoutTriggers(handle.db, [`UPDATE audit_log SET outcome = 'denied', hash = '${fakeHash('x')}' WHERE seq = 4`]);
    expect((await verifyChain()).break).toMatchObject({ position: 4, reason: 'edited' });
  });

  it('names an entry whose time was set to one no entry is written with (infinity), rather than failing', async () => {
    await asOwnerWithoutTriggers(handle.db, [`UPDATE audit_log SET occurred_at = 'infinity' WHERE seq = 5`]);
    expect((await verifyChain()).break).toMatchObject({ chain: 0, position: 5, seq: 5, reason: 'edited' });
  });

  it('detects details replaced by their own JSON text (a jsonb string)', async () => {
    await asOwnerWithoutTriggers(handle.db, [`UPDATE audit_log SET details = to_jsonb(details::text) WHERE seq = 9`]);
    expect((await verifyChain()).break).toMatchObject({ chain: 0, position: 9, seq: 9, reason: 'edited' });
  });

  it('detects a deleted entry', async () => {
    await asOwnerWithoutTriggers(handle.db, ['DELETE FROM audit_log WHERE seq = 17']);
    expect((await verifyChain()).break).toMatchObject({ chain: 0, position: 17, reason: 'deleted', detail: 'Entry 17 of chain 0 is missing.' });
  });

  it('detects a deletion hidden by renumbering the later entries', async () => {
    await asOwnerWithoutTriggers(handle.db, ['DELETE FROM audit_log WHERE seq = 17', ...shiftSeqStatements(18, -1)]);
    expect((await verifyChain()).break).toMatchObject({ position: 17, reason: 'deleted' });
  });

  it('detects a deletion hidden by renumbering only the positions', async () => {
    await asOwnerWithoutTriggers(handle.db, ['DELETE FROM audit_log WHERE seq = 17', 'UPDATE audit_log SET chain_seq = -chain_seq WHERE seq > 17', 'UPDATE audit_log SET chain_seq = -chain_seq - 1 WHERE chain_seq < 0']);
    expect((await verifyChain()).break).toMatchObject({ position: 17, seq: 18, reason: 'deleted' });
  });

  it('detects a forged entry inserted in the middle', async () => {
    const prev = await hashOf(9);
    await asOwnerWithoutTriggers(handle.db, [...shiftSeqStatements(10, 1), forgedRowSql(10, prev)]);
    const result = await verifyChain();
    expect(result.break).toMatchObject({ position: 10, reason: 'inserted' });
  });

  it('detects a forged entry appended at the end', async () => {
    await asOwnerWithoutTriggers(handle.db, [forgedRowSql(CHAIN + 1, await hashOf(CHAIN))]);
    expect((await verifyChain()).break).toMatchObject({ position: CHAIN + 1, reason: 'forged' });
  });

  it('detects a genuine entry replayed at another position', async () => {
    await asOwnerWithoutTriggers(handle.db, [
      `INSERT INTO audit_log SELECT ${CHAIN + 1}, gen_random_uuid(), user_id, action_type, resource_type, resource_id,
         patient_id, occurred_at, ip, user_agent, outcome, break_glass_grant_id, details, sealed_before, sealed_after,
         prev_hash, hash, chain, ${CHAIN + 1} FROM audit_log WHERE seq = 3`,
    ]);
    expect((await verifyChain()).break).toMatchObject({ position: CHAIN + 1, reason: 'reordered' });
  });

  it('detects two swapped entries', async () => {
    await asOwnerWithoutTriggers(handle.db, swapSeqStatements(5, 8));
    expect((await verifyChain()).break).toMatchObject({ position: 5, reason: 'reordered' });
  });

  it('detects two swapped neighbours', async () => {
    await asOwnerWithoutTriggers(handle.db, swapSeqStatements(20, 21));
    expect((await verifyChain()).break).toMatchObject({ position: 20, reason: 'reordered' });
  });

  it('detects a truncated tail against the last checkpoint, and only with it', async () => {
    const checkpoint = await checkpointAtHead();
    await asOwnerWithoutTriggers(handle.db, [`DELETE FROM audit_log WHERE seq > 25`]);
    // The shorter chain is internally consistent: only the checkpoint can tell.
    expect((await verifyChain()).ok).toBe(true);
    const result = await verifyChain({ checkpoint });
    expect(result.ok).toBe(false);
    expect(result.break).toMatchObject({ chain: 0, position: 26, seq: null, reason: 'truncated' });
  });

  it('detects a tail truncated and regrown past the checkpoint', async () => {
    const checkpoint = await checkpointAtHead();
    await asOwnerWithoutTriggers(handle.db, [`DELETE FROM audit_log WHERE seq > 25`]);
    for (let i = 0; i < 10; i++) await appendOne(handle.db, syntheticEvent(100 + i));
    expect((await verifyChain()).ok).toBe(true);
    expect((await verifyChain({ checkpoint })).break).toMatchObject({ position: CHAIN, reason: 'truncated' });
  });

  it('verifies incrementally from a checkpoint', async () => {
    const checkpoint = await checkpointAtHead();
    for (let i = 0; i < 5; i++) await appendOne(handle.db, syntheticEvent(200 + i));
    const result = await verifyChain({ from: checkpoint });
    expect(result).toMatchObject({ ok: true, checked: 5, incremental: true, headSeq: CHAIN + 5 });
    await asOwnerWithoutTriggers(handle.db, [`UPDATE audit_log SET action_type = 'x' WHERE seq = ${CHAIN + 3}`]);
    expect((await verifyChain({ from: checkpoint })).break).toMatchObject({ position: CHAIN + 3, reason: 'edited' });
    await asOwnerWithoutTriggers(handle.db, [`DELETE FROM audit_log WHERE seq >= ${CHAIN}`]);
    expect((await verifyChain({ from: checkpoint })).break).toMatchObject({ position: CHAIN, reason: 'truncated' });
  });

  it('stops at a limit and says the rest is unverified', async () => {
    const result = await verifyChain({ limit: 10, pageSize: 4 });
    expect(result).toMatchObject({ ok: true, partial: true, checked: 10, headSeq: 10 });
  });

  it('signs checkpoints and rejects an altered or foreign one', async () => {
    const file = path.join(dir, 'cp.json');
    const checkpoint = await checkpointAtHead();
    writeCheckpoint(checkpoint, file);
    expect(readCheckpoint(file)).toEqual({ status: 'valid', checkpoint });
    expect(readCheckpoint(path.join(dir, 'absent.json'))).toEqual({ status: 'none' });

    const altered = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...altered, seq: 3 }));
    expect(readCheckpoint(file).status).toBe('invalid');

    writeCheckpoint(checkpoint, file);
    const ours = getKeyProvider();
    installTestKeys(); // another installation's keys
    expect(readCheckpoint(file).status).toBe('invalid');
    setKeyProvider(ours);
    expect(readCheckpoint(file).status).toBe('valid');
  });
});
