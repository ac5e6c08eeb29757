/**
 * The audit trail's tail: automatic signed checkpoints, sent off the host, and the check that
 * notices a deleted tail, a rolled-back database, a missing checkpoint and an older one put
 * back — each naming the last checkpoint, in the automatic check and in `audit:verify`
 * (fullVerification). One story on one chain, because each step builds on the checkpoints the
 * steps before it wrote.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { desc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertOutbox, auditLog, notifications } from '@/db/schema';
import { auditActions } from '@/lib/domain/audit/actions';
import { CHECKPOINT_EVERY_MS } from '@/lib/platform/audit/auto-checkpoint';
import { readCheckpoint } from '@/lib/platform/audit/checkpoint';
import { appendMany, asOwnerWithoutTriggers } from '@/test/audit-fixtures';
import { auditHead, later, testDatabase } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { runCheckpointCheck } from '@/lib/features/audit-review/checkpointing';
import { fullVerification } from '@/lib/features/audit-review/status';

let handle: TestDatabase;
let dir: string;
let file: string;
const T0 = new Date('2026-06-01T09:00:00Z');
let step = 0;
/** Each check a little later than the last, and past the time rule when asked. */
const check = (options: { due?: boolean } = {}) => {
  step += options.due ? CHECKPOINT_EVERY_MS : 1_000;
  return runCheckpointCheck({ at: later(T0, step), file });
};
const verify = () => fullVerification({ db: handle.db, checkpointFile: file });
const deleteFrom = (seq: number) => asOwnerWithoutTriggers(handle.db, [`DELETE FROM audit_log WHERE seq >= ${seq}`]);

beforeAll(async () => {
  handle = await testDatabase({ empty: true });
  dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-checkpoints-'));
  file = path.join(dir, 'audit-checkpoint.json');
});
afterAll(async () => {
  await handle?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('automatic checkpoints of the audit trail', () => {
  it('writes a signed checkpoint, records it in the trail and sends it off the host', async () => {
    await appendMany(handle.db, 5);
    const tick = await check();
    expect(tick).toMatchObject({ state: 'written', checkpoint: { seq: 5 } });
    const read = readCheckpoint(file);
    expect(read).toMatchObject({ status: 'valid', checkpoint: { seq: 5 } });
    const [entry] = await handle.db.select().from(auditLog).where(eq(auditLog.actionType, auditActions.audit.checkpoint));
    expect(entry).toMatchObject({ seq: 6, details: { seq: 5 } });
    const [sent] = await handle.db.select().from(alertOutbox).orderBy(desc(alertOutbox.createdAt)).limit(1);
    expect(sent!.payload).toMatchObject({ kind: auditActions.audit.checkpoint });
    expect(JSON.parse(String(sent!.payload.message))).toMatchObject({ seq: 5, signature: expect.stringMatching(/^[0-9a-f]{64}$/) });
    // Its own entry does not make the next one due.
    expect(await check({ due: true })).toMatchObject({ state: 'unchanged' });
  });

  it('notices the newest entries deleted before any checkpoint covers them, naming the last one', async () => {
    await appendMany(handle.db, 3); // 7–9
    expect(await check({ due: true })).toMatchObject({ state: 'written', checkpoint: { seq: 9 } }); // its entry is 10
    await appendMany(handle.db, 3); // 11–13
    expect(await check()).toMatchObject({ state: 'unchanged', headSeq: 13 });
    await deleteFrom(12);
    const tick = await check();
    expect(tick.state).toBe('alarm');
    expect(tick.state === 'alarm' && tick.summary).toMatch(/Chain 0 of the audit trail ends at entry 11, but entry 13 existed.*Last checkpoint: seq 9/);
    const [alarm] = await handle.db.select().from(auditLog).where(eq(auditLog.actionType, auditActions.audit.checkpointAlarm));
    expect(alarm).toMatchObject({ outcome: 'denied', details: { lastCheckpointSeq: 9 } });
    const notices = await handle.db.select().from(notifications).where(eq(notifications.kind, auditActions.audit.checkpointAlarm));
    expect(notices).toHaveLength(1);
  });

  it('fails the walk when the checkpoint file is missing, or an older one is put back', async () => {
    await appendMany(handle.db, 4);
    expect(await check({ due: true })).toMatchObject({ state: 'written' });
    const newest = readCheckpoint(file);
    if (newest.status !== 'valid') throw new Error('no checkpoint');
    copyFileSync(file, `${file}.newest`);
    expect((await verify()).state).toBe('ok');

    rmSync(file);
    const missing = await verify();
    expect(missing.state).toBe('checkpoint_invalid');
    expect(missing.summary).toMatch(new RegExp(`missing, but a checkpoint of the trail at seq ${newest.checkpoint.seq}`));
    expect(await check()).toMatchObject({ state: 'alarm', summary: expect.stringMatching(/is missing/) });

    copyFileSync(`${file}.newest`, `${file}.older`);
    copyFileSync(`${file}.newest`, file);
    await appendMany(handle.db, 2);
    expect(await check({ due: true })).toMatchObject({ state: 'written' });
    copyFileSync(`${file}.older`, file);
    const older = await verify();
    expect(older.state).toBe('checkpoint_invalid');
    expect(older.summary).toMatch(new RegExp(`holds seq ${newest.checkpoint.seq} .* older than the checkpoint at seq`));
    expect(await check()).toMatchObject({ state: 'alarm', summary: expect.stringMatching(/older checkpoint was put back/) });
  });

  it('detects a truncated tail and a database restored from an older copy, in the check and in audit:verify', async () => {
    // The newest checkpoint is put back from its off-host copy, as an operator would.
    const sent = (await handle.db.select().from(alertOutbox).orderBy(desc(alertOutbox.createdAt)))
      .map((row) => row.payload)
      .find((payload) => payload.kind === auditActions.audit.checkpoint);
    const signed = JSON.parse(String(sent!.message)) as { seq: number; createdAt: string };
    writeFileSync(file, JSON.stringify(signed));
    expect((await verify()).state).toBe('ok');

    // Truncation: the entries from before the checkpoint on are gone.
    await deleteFrom(signed.seq - 1);
    const cut = await verify();
    expect(cut.state).toBe('broken');
    expect(cut.summary).toMatch(new RegExp(`checkpoint of ${signed.createdAt}`));
    expect(await check()).toMatchObject({ state: 'alarm', checkpoint: { seq: signed.seq } });

    // An older copy restored and written to since: the entry at the checkpoint's seq is another one.
    await appendMany(handle.db, 10);
    expect(await auditHead(handle.db)).toBeGreaterThan(signed.seq);
    const restored = await verify();
    expect(restored.state).toBe('broken');
    expect(restored.summary).toMatch(new RegExp(`checkpoint of ${signed.createdAt}`));
    const tick = await check();
    expect(tick).toMatchObject({ state: 'alarm', checkpoint: { seq: signed.seq } });
    expect(tick.state === 'alarm' && tick.summary).toMatch(new RegExp(`Last checkpoint: seq ${signed.seq}`));
  });
});
