/**
 * The two-person rule (lib/domain/access/two-person.ts): privileged changes wait for a second,
 * different person; nobody approves their own request; and the puppet path — an admin creates a
 * second admin account and uses it to reach PHI — fails at every step.
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRequests, alertOutbox, auditLog, careTeam, notifications, userRoles, users } from '@/db/schema';
import { DEMO_PASSWORD } from '@/db/seed';
import { REQUEST_LIFETIME_MS } from '@/lib/domain/access/two-person';
import type { Viewer } from '@/lib/domain/access/viewer';
import { assignToCareTeam, createUser, decideAdminRequest, listAdminRequests, resetUserPassword, setUserDisabled, setUserRoles } from '@/lib/features/admin';
import { advanceClock, resetClock } from '@/lib/platform/clock';
import { createStaff, PATIENTS_WITH_STRANGERS, strangerPatients, testDatabase, viewer } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { approve, filedRequest, secondAdmin } from '@/test/approvals';

let handle: TestDatabase;
let a: Viewer; // the insider
let c: Viewer; // an honest second administrator
let patientId: string;

beforeAll(async () => {
  handle = await testDatabase({ patients: PATIENTS_WITH_STRANGERS });
  a = await viewer(handle.db, 'admin@vigil.test');
  c = await secondAdmin(handle.db);
  [patientId] = (await strangerPatients(handle.db)) as [string];
});
afterAll(async () => {
  resetClock();
  await handle?.close();
});

const rolesOf = async (id: string) => (await handle.db.select({ r: userRoles.roleName }).from(userRoles).where(eq(userRoles.userId, id))).map((r) => r.r).sort();
const KNOWN = 'a known password';
const decide = (who: Viewer, requestId: string, adminPassword = DEMO_PASSWORD) => decideAdminRequest(who, { requestId, decision: 'approve', adminPassword });
const newAccount = (email: string, roles: string[], adminPassword = DEMO_PASSWORD) => ({ email, displayName: 'Someone New', password: KNOWN, passwordConfirm: KNOWN, roles, adminPassword });

describe('each privileged change waits for a second administrator', () => {
  it('granting a role, creating an account with one, resetting a password and disabling a privacy officer are all pending', async () => {
    const target = await createStaff(handle.db, { roles: [] });
    const officer = await createStaff(handle.db, { roles: ['privacy_officer'] });
    const filed = [
      await setUserRoles(a, { userId: target.id, roles: ['physician'], adminPassword: DEMO_PASSWORD }),
      await createUser(a, newAccount('pending-physician@vigil.test', ['physician'])),
      await resetUserPassword(a, { userId: target.id, password: 'another known password', passwordConfirm: 'another known password', adminPassword: DEMO_PASSWORD }),
      await setUserDisabled(a, { userId: officer.id, disabled: true, reason: 'other', adminPassword: DEMO_PASSWORD }),
      await setUserRoles(a, { userId: officer.id, roles: [], adminPassword: DEMO_PASSWORD }),
    ];
    for (const result of filed) expect(filedRequest(result as never)).toMatch(/^[0-9a-f-]{36}$/);
    expect(await rolesOf(target.id)).toEqual([]);
    expect(await handle.db.select().from(users).where(eq(users.email, 'pending-physician@vigil.test'))).toEqual([]);
    expect((await handle.db.select().from(users).where(eq(users.id, officer.id)))[0]?.disabledAt).toBeNull();
    expect(await rolesOf(officer.id)).toEqual(['privacy_officer']);
    const list = await listAdminRequests(c);
    expect(list.ok && list.value.filter((r) => r.status === 'pending' && r.requestedBy.id === a.userId)).toHaveLength(5);
  });

  it('the requester approving their own request is refused and audited; a second administrator’s approval makes it', async () => {
    const target = await createStaff(handle.db, { roles: [] });
    const requestId = filedRequest(await setUserRoles(a, { userId: target.id, roles: ['nurse'], adminPassword: DEMO_PASSWORD }));
    expect(await decide(a, requestId)).toMatchObject({ ok: false, error: 'own_request', message: expect.stringMatching(/your own request/) });
    const [refusal] = await handle.db.select().from(auditLog).where(and(eq(auditLog.actionType, 'admin_request.approve'), eq(auditLog.resourceId, requestId)));
    expect(refusal).toMatchObject({ outcome: 'denied', userId: a.userId, details: { reason: 'own_request' } });
    expect(await rolesOf(target.id)).toEqual([]);

    expect(await decide(c, requestId)).toMatchObject({ ok: true, value: { status: 'approved' } });
    expect(await rolesOf(target.id)).toEqual(['nurse']);
    expect(await decide(c, requestId)).toMatchObject({ ok: false, error: 'decided' });
  });

  it('approving needs the approver’s password typed now', async () => {
    const target = await createStaff(handle.db, { roles: [] });
    const requestId = filedRequest(await setUserRoles(a, { userId: target.id, roles: ['billing'], adminPassword: DEMO_PASSWORD }));
    expect(await decideAdminRequest(c, { requestId, decision: 'approve', adminPassword: 'not my password' })).toMatchObject({ ok: false, error: 'reauth_failed' });
    expect(await rolesOf(target.id)).toEqual([]);
  });

  it('a request nobody approved lapses', async () => {
    const target = await createStaff(handle.db, { roles: [] });
    const requestId = filedRequest(await setUserRoles(a, { userId: target.id, roles: ['billing'], adminPassword: DEMO_PASSWORD }));
    advanceClock(REQUEST_LIFETIME_MS + 60_000);
    const late = await secondAdmin(handle.db);
    expect(await decide(late, requestId)).toMatchObject({ ok: false, error: 'expired' });
    expect(await rolesOf(target.id)).toEqual([]);
    resetClock();
    c = await secondAdmin(handle.db);
    a = await viewer(handle.db, 'admin@vigil.test');
  });

  it('privacy officers are told of every privileged grant, when asked and when approved', async () => {
    const target = await createStaff(handle.db, { roles: [] });
    const before = (await handle.db.select().from(alertOutbox)).length;
    const result = await setUserRoles(a, { userId: target.id, roles: ['admin'], adminPassword: DEMO_PASSWORD });
    await approve(c, result);
    const notices = await handle.db.select().from(notifications).where(eq(notifications.audienceRole, 'privacy_officer'));
    expect(notices.filter((n) => n.kind.startsWith('admin_request'))).toHaveLength(2);
    expect((await handle.db.select().from(alertOutbox)).length).toBe(before + 2);
  });
});

describe('the puppet path: one admin, two accounts', () => {
  it('an admin who made a second admin account cannot use it to reach PHI, nor approve its requests', async () => {
    // A asks for a puppet admin with a password A knows; honest C approves it.
    await approve(c, await createUser(a, newAccount('puppet-admin@vigil.test', ['admin'])));
    const [puppetRow] = await handle.db.select().from(users).where(eq(users.email, 'puppet-admin@vigil.test'));
    const puppet = await viewer(handle.db, 'puppet-admin@vigil.test');
    expect(puppetRow?.createdBy).toBe(a.userId);

    // Through the puppet, A asks for the physician role for A: refused at once (A made the puppet).
    expect(await setUserRoles(puppet, { userId: a.userId, roles: ['admin', 'physician'], adminPassword: KNOWN })).toMatchObject({ ok: false, error: 'own_chain' });
    expect(await rolesOf(a.userId)).toEqual(['admin']);
    // Nor a care-team row for A, nor a new password for A's account.
    expect(await assignToCareTeam(puppet, { patientId, userId: a.userId, relationship: 'attending' })).toMatchObject({ ok: false, error: 'own_chain' });
    expect(await handle.db.select().from(careTeam).where(eq(careTeam.userId, a.userId))).toEqual([]);
    expect(await resetUserPassword(puppet, { userId: a.userId, password: 'yet another password', passwordConfirm: 'yet another password', adminPassword: KNOWN })).toMatchObject({ error: 'own_chain' });

    // Through the puppet, A asks for a physician account with a known password: A may not approve it.
    const physicianRequest = filedRequest(await createUser(puppet, newAccount('puppet-physician@vigil.test', ['physician'], KNOWN)));
    expect(await decide(a, physicianRequest)).toMatchObject({ ok: false, error: 'requested_by_your_account' });
    expect(await handle.db.select().from(users).where(eq(users.email, 'puppet-physician@vigil.test'))).toEqual([]);

    // A asks for the physician role for the puppet and approves it as the puppet: refused too.
    const selfGrant = filedRequest(await setUserRoles(a, { userId: puppet.userId, roles: ['admin', 'physician'], adminPassword: DEMO_PASSWORD }));
    expect(await decide(puppet, selfGrant, KNOWN)).toMatchObject({ ok: false, error: 'benefits_you' });
    expect(await rolesOf(puppet.userId)).toEqual(['admin']);

    // Every refusal is in the trail, with its reason.
    const refused = await handle.db.select({ reason: auditLog.details }).from(auditLog).where(eq(auditLog.outcome, 'denied'));
    const reasons = refused.map((r) => (r.reason as { reason?: string } | null)?.reason);
    for (const reason of ['own_chain', 'requested_by_your_account', 'benefits_you']) expect(reasons).toContain(reason);
    // The request rows never held a password, only its hash.
    const rows = await handle.db.select().from(adminRequests);
    expect(JSON.stringify(rows)).not.toContain(KNOWN);
  });
});
