/**
 * User administration: create (argon2id, min 12 characters), disable/enable (ending sessions at
 * once), reset password, assign roles — each audited with PHI-free before/after — and the
 * self-escalation rule (lib/domain/access/admin-rules.ts), one test per rule.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { and, desc, eq, gt } from 'drizzle-orm';
import { auditLog, roles, userRoles, users } from '@/db/schema';
import { DEMO_PASSWORD } from '@/db/seed';
import type { Viewer } from '@/lib/domain/access/viewer';
import { signInWithPassword } from '@/lib/features/auth/login';
import { checkSession, createSession } from '@/lib/features/credentials/sessions';
import { advanceClock, resetClock } from '@/lib/platform/clock';
import { auditHead, createStaff, testDatabase, viewer } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { createUser, resetUserPassword, setUserDisabled, setUserRoles } from '@/lib/features/admin/users';
import { approve, secondAdmin } from '@/test/approvals';

const STALE = 6 * 60_000; // past the 5-minute re-authentication window
const client = { ip: '127.0.0.1', userAgent: 'vitest' };

let handle: TestDatabase;
let admin: Viewer;
let admin2: Viewer;
let physician: Viewer;
let counter = 0;
const uniqueEmail = () => `new-user-${Date.now()}-${++counter}@vigil.test`;

beforeAll(async () => {
  handle = await testDatabase({ patients: 10 });
  physician = await viewer(handle.db, 'physician@vigil.test');
});

// A fresh sign-in per test: re-authentication is stamped on the session, so tests must not share one.
beforeEach(async () => {
  admin = await viewer(handle.db, 'admin@vigil.test');
  admin2 = await secondAdmin(handle.db);
});

afterEach(() => resetClock());

afterAll(async () => {
  await handle?.close();
});

async function lastAudit(actor: Viewer, action: string) {
  const [row] = await handle.db
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.userId, actor.userId), eq(auditLog.actionType, action)))
    .orderBy(desc(auditLog.seq))
    .limit(1);
  return row;
}

async function rolesOf(id: string): Promise<string[]> {
  return (await handle.db.select({ r: userRoles.roleName }).from(userRoles).where(eq(userRoles.userId, id))).map((r) => r.r).sort();
}

const newUser = (extra: Record<string, unknown> = {}) => ({
  email: uniqueEmail(),
  displayName: 'Nurse Test',
  password: 'correct horse battery',
  passwordConfirm: 'correct horse battery',
  ...extra,
});

describe('createUser', () => {
  it('creates an account with an argon2id hash that can sign in, audited without the password', async () => {
    const input = newUser({ roles: ['nurse'] });
    const result = await createUser(admin, input);
    // An account with a role waits for a second administrator: nothing exists until then.
    expect(result).toMatchObject({ ok: true, value: { id: null } });
    expect(await handle.db.select().from(users).where(eq(users.email, input.email))).toEqual([]);
    await approve(admin2, result);
    const [row] = await handle.db.select().from(users).where(eq(users.email, input.email));
    expect(row?.passwordHash).toMatch(/^\$argon2id\$/);
    expect(row?.createdBy).toBe(admin.userId);
    expect(await rolesOf(row!.id)).toEqual(['nurse']);
    expect((await signInWithPassword({ email: input.email, password: input.password }, client)).ok).toBe(true);

    const audit = await lastAudit(admin2, 'user.create');
    expect(audit?.resourceId).toBe(row!.id);
    expect(audit?.details).toMatchObject({ after: { email: input.email, displayName: 'Nurse Test', roles: ['nurse'], disabled: false }, requestedBy: admin.userId });
    expect(JSON.stringify(audit)).not.toContain(input.password);
    expect(JSON.stringify(await lastAudit(admin, 'admin_request.file'))).not.toContain(input.password);
  });

  it('explains each invalid field and creates nothing', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ password: 'short-11chr', passwordConfirm: 'short-11chr' }, 'password'],
      [{ passwordConfirm: 'something else entirely' }, 'passwordConfirm'],
      [{ email: 'not an email' }, 'email'],
      [{ displayName: '   ' }, 'displayName'],
    ];
    for (const [change, field] of cases) {
      const input = newUser(change);
      const result = await createUser(admin, input);
      expect(result.ok).toBe(false);
      if (result.ok) continue;
      expect(result.error).toBe('invalid');
      expect(Object.keys(result.fieldErrors ?? {})).toContain(field);
      expect(result.fieldErrors?.[field]).not.toContain(String(input[field as keyof typeof input]));
    }
    const unknownRole = await createUser(admin, newUser({ roles: ['superuser'] }));
    expect(unknownRole).toMatchObject({ ok: false, error: 'invalid', fieldErrors: { roles: expect.any(String) } });
    const duplicate = await createUser(admin, newUser({ email: 'nurse@vigil.test' }));
    expect(duplicate).toMatchObject({ ok: false, error: 'duplicate', fieldErrors: { email: expect.any(String) } });
  });

  it('is denied to anyone without the admin permission, and the attempt is audited', async () => {
    const input = newUser();
    const result = await createUser(physician, input);
    expect(result).toMatchObject({ ok: false, error: 'denied' });
    expect(await handle.db.select().from(users).where(eq(users.email, input.email))).toEqual([]);
    expect((await lastAudit(physician, 'user.create'))?.outcome).toBe('denied');
  });
});

describe('rule 1: nobody administers their own account', () => {
  it('an admin cannot change their own roles', async () => {
    const result = await setUserRoles(admin, { userId: admin.userId, roles: ['admin', 'physician'], adminPassword: DEMO_PASSWORD });
    expect(result).toMatchObject({ ok: false, error: 'self_change' });
    expect(await rolesOf(admin.userId)).toEqual(['admin']);
    const audit = await lastAudit(admin, 'user.roles');
    expect(audit).toMatchObject({ outcome: 'denied', resourceId: admin.userId, details: { reason: 'self_change' } });
  });

  it('an admin cannot disable, enable or reset the password of their own account', async () => {
    expect(await setUserDisabled(admin, { userId: admin.userId, disabled: true, reason: 'other' })).toMatchObject({ error: 'self_change' });
    expect(
      await resetUserPassword(admin, { userId: admin.userId, password: 'a brand new password', passwordConfirm: 'a brand new password', adminPassword: DEMO_PASSWORD }),
    ).toMatchObject({ error: 'self_change' });
    const [row] = await handle.db.select().from(users).where(eq(users.id, admin.userId));
    expect(row?.disabledAt).toBeNull();
  });
});

describe('rule 3: granting power needs a fresh password', () => {
  it('granting a clinical role after the window asks for the password; a wrong one is refused; the right one works', async () => {
    const target = await createStaff(handle.db, { roles: [] });
    advanceClock(STALE);
    expect(await setUserRoles(admin, { userId: target.id, roles: ['physician'] })).toMatchObject({ ok: false, error: 'reauth_required' });
    expect(await setUserRoles(admin, { userId: target.id, roles: ['physician'], adminPassword: 'not my password' })).toMatchObject({
      ok: false,
      error: 'reauth_failed',
    });
    expect(await rolesOf(target.id)).toEqual([]);
    expect((await lastAudit(admin, 'user.roles'))?.details).toMatchObject({ reason: 'reauth_failed' });

    const granted = await setUserRoles(admin, { userId: target.id, roles: ['physician'], adminPassword: DEMO_PASSWORD });
    expect(granted).toMatchObject({ ok: true, value: { roles: [] } });
    expect(await rolesOf(target.id)).toEqual([]);
    await approve(admin2, granted);
    expect(await rolesOf(target.id)).toEqual(['physician']);
    const audit = await lastAudit(admin2, 'user.roles');
    expect(audit).toMatchObject({ outcome: 'allowed', resourceId: target.id, details: { before: { roles: [] }, after: { roles: ['physician'] }, requestedBy: admin.userId } });
  });

  it('each of billing, privacy officer and admin is a grant too', async () => {
    for (const role of ['billing', 'privacy_officer', 'admin', 'nurse']) {
      const target = await createStaff(handle.db, { roles: [] });
      advanceClock(STALE);
      expect(await setUserRoles(admin, { userId: target.id, roles: [role] }), role).toMatchObject({ error: 'reauth_required' });
      resetClock();
    }
  });

  it('within the window after signing in, no password is needed; taking a role away never needs one', async () => {
    const target = await createStaff(handle.db, { roles: [] });
    await approve(admin2, await setUserRoles(admin, { userId: target.id, roles: ['nurse', 'billing'] }));
    advanceClock(STALE);
    expect(await setUserRoles(admin, { userId: target.id, roles: ['nurse'] })).toMatchObject({ ok: true, value: { roles: ['nurse'] } });
  });

  it('creating a user with a role, re-enabling and resetting a password all need it', async () => {
    advanceClock(STALE);
    expect(await createUser(admin, newUser({ roles: ['nurse'] }))).toMatchObject({ error: 'reauth_required' });
    expect(await createUser(admin, newUser({ roles: [] }))).toMatchObject({ ok: true });

    const target = await createStaff(handle.db, { roles: ['nurse'] });
    expect(await setUserDisabled(admin, { userId: target.id, disabled: true, reason: 'leave_of_absence' })).toMatchObject({ ok: true });
    expect(await setUserDisabled(admin, { userId: target.id, disabled: false })).toMatchObject({ error: 'reauth_required' });
    expect(
      await resetUserPassword(admin, { userId: target.id, password: 'a brand new password', passwordConfirm: 'a brand new password' }),
    ).toMatchObject({ error: 'reauth_required' });
    expect(await setUserDisabled(admin, { userId: target.id, disabled: false, adminPassword: DEMO_PASSWORD })).toMatchObject({ ok: true });
  });
});

describe('rule 4: the last enabled administrator stays', () => {
  it('a help-desk role that may disable accounts cannot disable the only administrator', async () => {
    await handle.db.insert(roles).values({ name: 'helpdesk', description: 'Disables accounts', permissions: { admin: ['users.read', 'users.disable'] } });
    const desk = await createStaff(handle.db, { roles: ['helpdesk'] });
    const helpdesk = await viewer(handle.db, desk.email);
    // The demo's second administrator is away for this test.
    await handle.db.update(users).set({ disabledAt: new Date() }).where(eq(users.id, admin2.userId));
    const result = await setUserDisabled(helpdesk, { userId: admin.userId, disabled: true, reason: 'security_concern' });
    expect(result).toMatchObject({ ok: false, error: 'last_admin' });
    expect((await lastAudit(helpdesk, 'user.disable'))?.details).toMatchObject({ reason: 'last_admin' });

    // With a second administrator, the first may be disabled (and is re-enabled after).
    const second = await createStaff(handle.db, { roles: ['admin'] });
    expect(await setUserDisabled(helpdesk, { userId: admin.userId, disabled: true, reason: 'other' })).toMatchObject({ ok: true });
    const secondAdmin = await viewer(handle.db, second.email);
    expect(await setUserDisabled(secondAdmin, { userId: admin.userId, disabled: false })).toMatchObject({ ok: true });
    admin = await viewer(handle.db, 'admin@vigil.test'); // disabling ended the old session
    expect(await setUserDisabled(admin, { userId: second.id, disabled: true, reason: 'other' })).toMatchObject({ ok: true });
    await handle.db.update(users).set({ disabledAt: null }).where(eq(users.id, admin2.userId));
  });

  it('an admin whose own access was removed a moment ago is refused (permissions re-read under the lock)', async () => {
    const other = await createStaff(handle.db, { roles: ['admin'] });
    const stale = await viewer(handle.db, other.email);
    await handle.db.delete(userRoles).where(eq(userRoles.userId, other.id));
    const target = await createStaff(handle.db, { roles: ['nurse'] });
    expect(await setUserDisabled(stale, { userId: target.id, disabled: true, reason: 'other' })).toMatchObject({ error: 'denied' });
  });
});

describe('disabling', () => {
  it('ends every open session at once, blocks sign-in, is audited; enabling restores sign-in', async () => {
    const staff = await createStaff(handle.db, { roles: ['nurse'] });
    const first = await createSession(handle.db, staff.id, client);
    const second = await createSession(handle.db, staff.id, client);
    const since = await auditHead(handle.db);

    const result = await setUserDisabled(admin, { userId: staff.id, disabled: true, reason: 'left_organisation' });
    expect(result).toMatchObject({ ok: true, value: { sessionsRevoked: 2 } });
    for (const session of [first, second]) expect((await checkSession(handle.db, session.id)).valid).toBe(false);
    expect((await signInWithPassword({ email: staff.email, password: DEMO_PASSWORD }, client)).ok).toBe(false);

    const [audit] = await handle.db
      .select()
      .from(auditLog)
      .where(and(gt(auditLog.seq, since), eq(auditLog.actionType, 'user.disable')));
    expect(audit).toMatchObject({
      outcome: 'allowed',
      userId: admin.userId,
      resourceId: staff.id,
      patientId: null,
      details: { before: { disabled: false }, after: { disabled: true, reason: 'left_organisation' }, sessionsRevoked: 2 },
    });

    const enabled = await setUserDisabled(admin, { userId: staff.id, disabled: false });
    expect(enabled, JSON.stringify(enabled)).toMatchObject({ ok: true });
    expect((await signInWithPassword({ email: staff.email, password: DEMO_PASSWORD }, client)).ok).toBe(true);
  });

  it('asks for a reason from the list', async () => {
    const staff = await createStaff(handle.db, { roles: ['nurse'] });
    expect(await setUserDisabled(admin, { userId: staff.id, disabled: true })).toMatchObject({ error: 'invalid', fieldErrors: { reason: expect.any(String) } });
    expect(await setUserDisabled(admin, { userId: staff.id, disabled: true, reason: 'patient Jane Doe complained' })).toMatchObject({ error: 'invalid' });
  });
});

describe('resetting a password', () => {
  it('sets a new argon2id hash, ends open sessions, clears a lockout, and is audited without the password', async () => {
    const staff = await createStaff(handle.db, { roles: ['physician'] });
    const open = await createSession(handle.db, staff.id, client);
    await handle.db.update(users).set({ failedLogins: 5, lockedUntil: new Date(Date.now() + 3_600_000) }).where(eq(users.id, staff.id));
    const password = 'reset password for staff';
    const result = await resetUserPassword(admin, { userId: staff.id, password, passwordConfirm: password, adminPassword: DEMO_PASSWORD });
    // Filed, with the password only as its hash; nothing changes until a second admin approves.
    expect((await checkSession(handle.db, open.id)).valid).toBe(true);
    expect((await signInWithPassword({ email: staff.email, password }, client)).ok).toBe(false);
    await approve(admin2, result);
    expect((await checkSession(handle.db, open.id)).valid).toBe(false);
    expect((await signInWithPassword({ email: staff.email, password: DEMO_PASSWORD }, client)).ok).toBe(false);
    expect((await signInWithPassword({ email: staff.email, password }, client)).ok).toBe(true);
    const audit = await lastAudit(admin2, 'user.reset_password');
    expect(audit?.details).toMatchObject({ passwordReset: true, sessionsRevoked: 1, requestedBy: admin.userId });
    expect(JSON.stringify(audit)).not.toContain(password);
  });

  it('refuses a short password', async () => {
    const staff = await createStaff(handle.db, { roles: ['physician'] });
    expect(await resetUserPassword(admin, { userId: staff.id, password: 'elevenchars', passwordConfirm: 'elevenchars', adminPassword: DEMO_PASSWORD })).toMatchObject({
      error: 'invalid',
      fieldErrors: { password: 'Use at least 12 characters.' },
    });
  });
});
