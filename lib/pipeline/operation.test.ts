/**
 * The guarded operation's steps, each proven by an operation that would misbehave without it:
 * permission refusals are audited, bad input changes nothing, a wrong step-up password is
 * refused, an actor disabled since the request began is refused under the lock, a refused
 * data-dependent check is audited in the transaction, and a success with no audit entry is
 * rolled back rather than committed unaudited.
 */
import { desc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Db } from '@/db/client';
import { auditLog, settings, users } from '@/db/schema';
import { DEMO_PASSWORD } from '@/db/seed';
import type { Viewer } from '@/lib/domain/access/viewer';
import { fail, ok } from '@/lib/domain/result';
import { passwordStepUp } from '@/lib/features/credentials/reauth';
import { BROWSER, testDatabase, viewer as signIn } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { locks } from './locks';
import { declaredOperations, operation } from './operation';

let handle: TestDatabase;
let db: Db;
let admin: Viewer;
let nurse: Viewer;

beforeAll(async () => {
  handle = await testDatabase();
  db = handle.db;
  admin = await signIn(db, 'admin@vigil.test', { at: new Date(), client: BROWSER });
  nurse = await signIn(db, 'nurse@vigil.test', { at: new Date(), client: BROWSER });
});
afterAll(async () => handle.close());

const KEY = 'test.pipeline';
const lastEntry = async () => (await db.select().from(auditLog).orderBy(desc(auditLog.seq)).limit(1))[0];
const stored = async () => (await db.select().from(settings).where(eq(settings.key, KEY)))[0]?.value;

/** Writes a setting: the smallest real operation, with every step switched on. */
const writeSetting = operation({
  name: 'test.pipeline.write-setting',
  action: 'settings.update',
  resourceType: 'setting',
  permission: { category: 'admin', name: 'settings.break_glass' },
  deniedMessage: 'Not yours to change.',
  target: () => KEY,
  input: z.object({ value: z.number().int(), adminPassword: z.string().optional(), refuse: z.boolean().optional() }),
  stepUp: { by: passwordStepUp, secret: (raw) => (raw as { adminPassword?: string }).adminPassword },
  lock: () => locks.adminChange,
  recheckActor: true,
  authorize: async ({ input }) => (input.refuse ? { allowed: false, reason: 'test_refusal' } : { allowed: true, facts: { checked: true } }),
  run: async ({ tx, input, facts, audit }) => {
    await tx.insert(settings).values({ key: KEY, value: input.value }).onConflictDoUpdate({ target: settings.key, set: { value: input.value } });
    await audit({ resourceId: KEY, details: { to: input.value, checked: facts.checked } });
    return ok({ value: input.value }, 'Saved.');
  },
});

describe('operation()', () => {
  it('refuses a viewer without the permission, audits it, and changes nothing', async () => {
    expect(await writeSetting(nurse, { value: 1, adminPassword: DEMO_PASSWORD })).toEqual({ ok: false, error: 'denied', message: 'Not yours to change.' });
    expect(await lastEntry()).toMatchObject({ userId: nurse.userId, actionType: 'settings.update', outcome: 'denied', resourceId: KEY, details: { reason: 'no_permission' } });
    expect(await stored()).toBeUndefined();
  });

  it('refuses a wrong step-up password and audits the refusal', async () => {
    expect(await writeSetting(admin, { value: 1, adminPassword: 'not-my-password' })).toMatchObject({ ok: false, error: 'reauth_failed' });
    expect(await lastEntry()).toMatchObject({ userId: admin.userId, outcome: 'denied', details: { reason: 'reauth_failed' } });
    expect(await stored()).toBeUndefined();
  });

  it('answers bad input with field errors and writes nothing', async () => {
    const before = await lastEntry();
    expect(await writeSetting(admin, { value: 'many' })).toMatchObject({ ok: false, error: 'invalid', fieldErrors: { value: expect.any(String) } });
    expect((await lastEntry())?.seq).toBe(before?.seq);
  });

  it('audits a refused data-dependent check in the transaction', async () => {
    expect(await writeSetting(admin, { value: 2, refuse: true })).toEqual({ ok: false, error: 'denied', message: 'Not yours to change.' });
    expect(await lastEntry()).toMatchObject({ outcome: 'denied', details: { reason: 'test_refusal' } });
    expect(await stored()).toBeUndefined();
  });

  it('does the work and its audit entry together', async () => {
    expect(await writeSetting(admin, { value: 3, adminPassword: DEMO_PASSWORD })).toEqual({ ok: true, value: { value: 3 }, message: 'Saved.' });
    expect(await lastEntry()).toMatchObject({ outcome: 'allowed', details: { to: 3, checked: true } });
    expect(await stored()).toBe(3);
  });

  it('re-reads the actor under the lock: an account disabled since the request began is refused', async () => {
    const other = await signIn(db, 'admin@vigil.test', { at: new Date(), client: BROWSER });
    await db.update(users).set({ disabledAt: new Date() }).where(eq(users.id, other.userId));
    try {
      expect(await writeSetting(other, { value: 4 })).toMatchObject({ ok: false, error: 'denied' });
      expect(await stored()).toBe(3);
    } finally {
      await db.update(users).set({ disabledAt: null }).where(eq(users.id, other.userId));
    }
  });

  it('rolls back a success that recorded no audit entry', async () => {
    const forgetful = operation({
      name: 'test.pipeline.forgetful',
      action: 'settings.update',
      resourceType: 'setting',
      deniedMessage: 'No.',
      input: z.object({ value: z.number() }),
      run: async ({ tx, input }) => {
        await tx.update(settings).set({ value: input.value }).where(eq(settings.key, KEY));
        return ok(undefined);
      },
    });
    await expect(forgetful(admin, { value: 5 })).rejects.toThrow(/without an audit entry/);
    expect(await stored()).toBe(3);
  });

  it('audits the failures an operation names as refusals', async () => {
    const picky = operation({
      name: 'test.pipeline.picky',
      action: 'settings.update',
      resourceType: 'setting',
      deniedMessage: 'No.',
      target: () => KEY,
      input: z.object({}),
      auditedFailures: ['self_change'],
      run: async () => fail('self_change', 'Ask someone else.'),
    });
    expect(await picky(admin, {})).toEqual({ ok: false, error: 'self_change', message: 'Ask someone else.' });
    expect(await lastEntry()).toMatchObject({ outcome: 'denied', details: { reason: 'self_change' } });
  });

  it('registers every declared operation once, with the steps it takes', () => {
    expect(declaredOperations().find((o) => o.name === 'test.pipeline.write-setting')).toEqual({
      name: 'test.pipeline.write-setting',
      resourceType: 'setting',
      permission: { category: 'admin', name: 'settings.break_glass' },
      stepUp: true,
      lock: true,
      recheckActor: true,
      authorize: true,
      audits: 'success',
    });
    expect(() => operation({ name: 'test.pipeline.picky', action: 'settings.update', resourceType: 'setting', deniedMessage: '', input: z.object({}), run: async () => ok(undefined) })).toThrow(/declared twice/);
  });
});
