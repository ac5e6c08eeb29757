/**
 * The SSO sign-in after Auth.js verified the ID token: which account it reaches (linked by
 * issuer and subject, linked once by verified email, just-in-time only when switched on), the
 * refusals (no account, another subject's account, disabled, unmapped), roles that follow the
 * IdP's groups, MFA from the IdP or the account's own code, and a session row like any other.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { and, eq, sql } from 'drizzle-orm';
import { generate } from 'otplib';
import { ssoRoleMappings, userRoles, users } from '@/db/schema';
import { MFA_DEMO_ACCOUNT } from '@/db/demo-mfa';
import { now, resetClock } from '@/lib/platform/clock';
import { updateWithMac } from '@/lib/platform/integrity';
import { sessionPolicy } from '@/lib/features/credentials/config';
import { resolveViewerState } from '@/lib/features/auth/viewer-state';
import { finishSsoWithCode, signInWithSso, type SsoIdentity } from '@/lib/features/auth/sso';
import { loadRolesAndPermissions } from '@/lib/pipeline/actor';
import { auditHead, auditOfActionSince, createStaff, sessionRow, TEST_CLIENT, testDatabase, userRow } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';

let handle: TestDatabase;
const ISSUER = 'https://login.hospital.example';
let n = 0;

beforeAll(async () => {
  handle = await testDatabase();
  await handle.db.insert(ssoRoleMappings).values([
    { claimValue: 'vigil-physicians', roleName: 'physician' },
    { claimValue: 'vigil-nurses', roleName: 'nurse' },
    { claimValue: 'it-admins', roleName: 'admin' },
  ]);
});

afterEach(() => {
  resetClock();
  delete process.env.VIGIL_OIDC_JIT;
  delete process.env.VIGIL_REQUIRE_MFA;
});

afterAll(async () => {
  await handle?.close();
});

/** A person at the IdP, their own for each test. */
function person(overrides: Partial<SsoIdentity> = {}): SsoIdentity {
  n += 1;
  return {
    issuer: ISSUER,
    subject: `subject-${n}-${Date.now()}`,
    email: `sso-person-${n}-${Date.now()}@hospital.test`,
    emailVerified: true,
    name: `SSO Person ${n}`,
    groups: ['vigil-physicians'],
    mfa: true,
    ...overrides,
  };
}

async function rolesOf(userId: string): Promise<string[]> {
  return (await handle.db.select({ name: userRoles.roleName }).from(userRoles).where(eq(userRoles.userId, userId))).map((r) => r.name).sort();
}

async function refusals(since: number) {
  return (await auditOfActionSince(handle.db, since, 'auth.login')).filter((e) => e.outcome === 'denied');
}

describe('which account an SSO sign-in reaches', () => {
  it('links an account an admin created by its verified email, then finds it by issuer and subject alone', async () => {
    const who = person();
    const staff = await createStaff(handle.db, { email: who.email!, roles: [] });
    const since = await auditHead(handle.db);

    const first = await signInWithSso(who, TEST_CLIENT);
    expect(first).toMatchObject({ ok: true, userId: staff.id });
    const linked = await userRow(handle.db, who.email!);
    expect([linked.oidcIssuer, linked.oidcSubject]).toEqual([ISSUER, who.subject]);

    // The IdP changes the address: the subject still reaches the same account.
    const renamed = await signInWithSso({ ...who, email: 'someone-else@hospital.test' }, TEST_CLIENT);
    expect(renamed).toMatchObject({ ok: true, userId: staff.id });

    const logins = (await auditOfActionSince(handle.db, since, 'auth.login')).filter((e) => e.outcome === 'allowed');
    expect(logins.map((e) => (e.details as { method?: string; linkedNow?: boolean }).linkedNow)).toEqual([false, true]);
  });

  it('never links by an address the IdP has not verified', async () => {
    const who = person({ emailVerified: false });
    await createStaff(handle.db, { email: who.email!, roles: [] });
    const since = await auditHead(handle.db);
    expect(await signInWithSso(who, TEST_CLIENT)).toEqual({ ok: false, reason: 'no_account' });
    expect((await userRow(handle.db, who.email!)).oidcSubject).toBeNull();
    expect((await refusals(since)).map((e) => (e.details as { reason: string }).reason)).toEqual(['no_account']);
  });

  it('refuses an account already linked to another subject (a reassigned address cannot take it over)', async () => {
    const owner = person();
    const staff = await createStaff(handle.db, { email: owner.email!, roles: [] });
    expect(await signInWithSso(owner, TEST_CLIENT)).toMatchObject({ ok: true });
    const since = await auditHead(handle.db);
    const newcomer = person({ email: owner.email });
    expect(await signInWithSso(newcomer, TEST_CLIENT)).toEqual({ ok: false, reason: 'identity_mismatch' });
    const [entry] = await refusals(since);
    expect(entry).toMatchObject({ userId: staff.id });
    expect(entry!.details).toMatchObject({ method: 'sso', reason: 'identity_mismatch' });
  });

  it('creates no account for a stranger unless just-in-time accounts are switched on', async () => {
    const stranger = person();
    expect(await signInWithSso(stranger, TEST_CLIENT)).toEqual({ ok: false, reason: 'no_account' });
    expect(await handle.db.select().from(users).where(eq(users.email, stranger.email!))).toHaveLength(0);

    process.env.VIGIL_OIDC_JIT = 'true';
    const created = await signInWithSso(stranger, TEST_CLIENT);
    expect(created).toMatchObject({ ok: true });
    const row = await userRow(handle.db, stranger.email!);
    expect(row).toMatchObject({ displayName: stranger.name, oidcSubject: stranger.subject });
    expect(await rolesOf(row.id)).toEqual(['physician']);
  });
});

describe('refusals after the IdP vouched for the person', () => {
  it('refuses a disabled account and starts no session', async () => {
    const who = person();
    const staff = await createStaff(handle.db, { email: who.email!, roles: [] });
    await updateWithMac(handle.db, 'users', eq(users.id, staff.id), { disabledAt: now(), disabledReason: 'left_organisation' });
    const since = await auditHead(handle.db);
    expect(await signInWithSso(who, TEST_CLIENT)).toEqual({ ok: false, reason: 'disabled' });
    const [entry] = await refusals(since);
    expect(entry).toMatchObject({ userId: staff.id, outcome: 'denied' });
    expect(entry!.details).toMatchObject({ method: 'sso', reason: 'disabled' });
    expect(await auditOfActionSince(handle.db, since, 'auth.login').then((rows) => rows.filter((r) => r.outcome === 'allowed'))).toHaveLength(0);
  });

  it('refuses someone in no mapped group, and leaves their roles alone', async () => {
    const who = person({ groups: ['cafeteria', 'all-staff'] });
    const staff = await createStaff(handle.db, { email: who.email!, roles: ['nurse'] });
    const since = await auditHead(handle.db);
    expect(await signInWithSso(who, TEST_CLIENT)).toEqual({ ok: false, reason: 'unmapped' });
    expect((await refusals(since))[0]!.details).toMatchObject({ reason: 'unmapped', groups: 2 });
    expect(await rolesOf(staff.id)).toEqual(['nurse']);
  });
});

describe('roles and the session', () => {
  it('gives exactly the roles the groups map to, audited, and takes one away when its group goes', async () => {
    const who = person({ groups: ['vigil-physicians', 'vigil-nurses'] });
    const staff = await createStaff(handle.db, { email: who.email!, roles: ['billing'] });
    const since = await auditHead(handle.db);
    expect(await signInWithSso(who, TEST_CLIENT)).toMatchObject({ ok: true });
    expect(await rolesOf(staff.id)).toEqual(['nurse', 'physician']);
    expect(await signInWithSso({ ...who, groups: ['vigil-nurses'] }, TEST_CLIENT)).toMatchObject({ ok: true });
    expect(await rolesOf(staff.id)).toEqual(['nurse']);
    const changes = (await auditOfActionSince(handle.db, since, 'user.roles')).reverse().map((e) => e.details);
    expect(changes).toEqual([
      { via: 'identity_provider', before: { roles: ['billing'] }, after: { roles: ['nurse', 'physician'] } },
      { via: 'identity_provider', before: { roles: ['nurse', 'physician'] }, after: { roles: ['nurse'] } },
    ]);
    expect((await userRow(handle.db, who.email!)).oidcGroups).toEqual(['vigil-nurses']);
  });

  it('writes afresh a role its groups grant that was only a row forged in SQL, and removes a forged one they do not', async () => {
    const who = person({ groups: ['vigil-physicians', 'vigil-nurses'] });
    const staff = await createStaff(handle.db, { email: who.email!, roles: ['nurse'] });
    await handle.db.execute(sql`INSERT INTO user_roles (user_id, role_name) VALUES (${staff.id}, 'physician'), (${staff.id}, 'admin')`);
    const since = await auditHead(handle.db);
    expect(await signInWithSso(who, TEST_CLIENT)).toMatchObject({ ok: true });
    expect(await rolesOf(staff.id)).toEqual(['nurse', 'physician']);
    expect((await loadRolesAndPermissions(handle.db, staff.id)).roles).toEqual(['nurse', 'physician']);
    expect((await auditOfActionSince(handle.db, since, 'user.roles')).map((e) => e.details)).toEqual([
      { via: 'identity_provider', before: { roles: ['nurse'] }, after: { roles: ['nurse', 'physician'] } },
    ]);
  });

  it('starts an ordinary session row: the same lifetime, idle limit and revocation as a password sign-in', async () => {
    const who = person();
    await createStaff(handle.db, { email: who.email!, roles: [] });
    const result = await signInWithSso(who, TEST_CLIENT);
    if (!result.ok) throw new Error(result.reason);
    const row = await sessionRow(handle.db, result.sessionId);
    expect(row.expiresAt.getTime() - row.createdAt.getTime()).toBe(sessionPolicy.absoluteLifetimeMs);
    expect(row.signInMethod).toBe('sso_mfa');
    const live = await resolveViewerState(handle.db, result.sessionId, TEST_CLIENT);
    expect(live.viewer?.roles).toEqual(['physician']);
    const idle = await resolveViewerState(handle.db, result.sessionId, TEST_CLIENT, { at: new Date(row.lastSeenAt.getTime() + sessionPolicy.idleTimeoutMs + 1) });
    expect(idle).toEqual({ viewer: null, reason: 'idle' });
  });

  it('ends the session the browser held before', async () => {
    const who = person();
    await createStaff(handle.db, { email: who.email!, roles: [] });
    const first = await signInWithSso(who, TEST_CLIENT);
    if (!first.ok) throw new Error(first.reason);
    const second = await signInWithSso(who, TEST_CLIENT, { replacesSessionId: first.sessionId });
    expect(second.ok).toBe(true);
    expect((await sessionRow(handle.db, first.sessionId)).revokedReason).toBe('replaced_by_sign_in');
  });
});

describe('the second factor', () => {
  it('takes the IdP’s MFA for an admin, and asks an admin signed in without it to enrol', async () => {
    process.env.VIGIL_REQUIRE_MFA = 'true';
    const withMfa = person({ groups: ['it-admins'] });
    const without = person({ groups: ['it-admins'], mfa: false });
    for (const who of [withMfa, without]) await createStaff(handle.db, { email: who.email!, roles: [] });
    const a = await signInWithSso(withMfa, TEST_CLIENT);
    const b = await signInWithSso(without, TEST_CLIENT);
    if (!a.ok || !b.ok) throw new Error('sign-in refused');
    const stateA = await resolveViewerState(handle.db, a.sessionId, TEST_CLIENT);
    const stateB = await resolveViewerState(handle.db, b.sessionId, TEST_CLIENT);
    expect(stateA.viewer && stateA.mfaEnrolmentPending).toBe(false);
    expect(stateB.viewer && stateB.mfaEnrolmentPending).toBe(true);
  });

  it('asks an account with an authenticator for its code when the IdP asserted no MFA; a wrong code is audited', async () => {
    const mfaUser = await userRow(handle.db, MFA_DEMO_ACCOUNT.email);
    await updateWithMac(handle.db, 'users', eq(users.id, mfaUser.id), { oidcIssuer: null, oidcSubject: null });
    const who = person({ email: MFA_DEMO_ACCOUNT.email, mfa: false });
    expect(await signInWithSso(who, TEST_CLIENT)).toEqual({ ok: false, reason: 'code_required', userId: mfaUser.id });

    const since = await auditHead(handle.db);
    expect(await finishSsoWithCode(who, '000000', TEST_CLIENT)).toEqual({ ok: false, reason: 'code_invalid' });
    const [refused] = await auditOfActionSince(handle.db, since, 'auth.mfa');
    expect(refused).toMatchObject({ userId: mfaUser.id, outcome: 'denied' });

    const code = await generate({ secret: MFA_DEMO_ACCOUNT.totpSecret, epoch: Math.floor(now().getTime() / 1000) });
    const done = await finishSsoWithCode(who, code, TEST_CLIENT);
    if (!done.ok) throw new Error(done.reason);
    expect((await sessionRow(handle.db, done.sessionId)).signInMethod).toBe('sso_totp');
    // The same code again is a replay.
    expect(await finishSsoWithCode(who, code, TEST_CLIENT)).toEqual({ ok: false, reason: 'code_invalid' });
    expect(await handle.db.select().from(users).where(and(eq(users.id, mfaUser.id), eq(users.oidcSubject, who.subject)))).toHaveLength(1);
  });
});
