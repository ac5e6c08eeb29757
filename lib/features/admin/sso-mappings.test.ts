/**
 * The identity provider group → role mappings admins edit: permission, audit, and the
 * self-escalation rules applied to groups (not one's own group; granting needs a fresh password;
 * removing the last way to administer is refused).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { and, eq, isNull, ne, sql } from 'drizzle-orm';
import { ssoRoleMappings, users } from '@/db/schema';
import { DEMO_PASSWORD } from '@/db/seed';
import { advanceClock, now, resetClock } from '@/lib/platform/clock';
import { updateWithMac } from '@/lib/platform/integrity';
import { addSsoMapping, listSsoMappings, removeSsoMapping } from '@/lib/features/admin/sso-mappings';
import { signInWithSso } from '@/lib/features/auth/sso';
import { auditHead, auditOfActionSince, createStaff, TEST_CLIENT, testDatabase, viewer } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';

let handle: TestDatabase;

beforeAll(async () => {
  handle = await testDatabase();
});

afterEach(() => resetClock());

afterAll(async () => {
  await handle?.close();
});

async function mapped(claimValue: string): Promise<string[]> {
  return (await handle.db.select().from(ssoRoleMappings).where(eq(ssoRoleMappings.claimValue, claimValue))).map((m) => m.roleName);
}

describe('SSO group mappings', () => {
  it('an admin maps a group to a role, audited; a nurse may neither list nor change them, and the refusal is audited', async () => {
    const admin = await viewer(handle.db, 'admin@vigil.test');
    const since = await auditHead(handle.db);
    const added = await addSsoMapping(admin, { claimValue: 'ward-7-nurses', roleName: 'nurse', adminPassword: DEMO_PASSWORD });
    expect(added).toMatchObject({ ok: true });
    expect(await mapped('ward-7-nurses')).toEqual(['nurse']);
    const [entry] = await auditOfActionSince(handle.db, since, 'sso_mapping.add');
    expect(entry).toMatchObject({ outcome: 'allowed', resourceId: 'ward-7-nurses', userId: admin.userId });
    expect(await listSsoMappings(admin, undefined)).toMatchObject({ ok: true, value: [{ claimValue: 'ward-7-nurses', roleName: 'nurse' }] });

    const nurse = await viewer(handle.db, 'nurse@vigil.test');
    expect(await listSsoMappings(nurse, undefined)).toMatchObject({ ok: false, error: 'denied' });
    expect(await addSsoMapping(nurse, { claimValue: 'everyone', roleName: 'admin', adminPassword: DEMO_PASSWORD })).toMatchObject({ ok: false, error: 'denied' });
    expect((await auditOfActionSince(handle.db, since, 'sso_mapping.add')).filter((e) => e.outcome === 'denied')).toHaveLength(1);
    expect(await mapped('everyone')).toEqual([]);
  });

  it('refuses a group name that is blank or too long, and a role that does not exist, changing nothing', async () => {
    const admin = await viewer(handle.db, 'admin@vigil.test');
    expect(await addSsoMapping(admin, { claimValue: '   ', roleName: 'nurse' })).toMatchObject({ ok: false, error: 'invalid', fieldErrors: { claimValue: expect.any(String) } });
    expect(await addSsoMapping(admin, { claimValue: 'x'.repeat(300), roleName: 'nurse' })).toMatchObject({ ok: false, error: 'invalid' });
    expect(await addSsoMapping(admin, { claimValue: 'ghosts', roleName: 'ghost_role' })).toMatchObject({ ok: false, error: 'invalid', fieldErrors: { roleName: expect.any(String) } });
    expect(await mapped('ghosts')).toEqual([]);
  });

  it('rule 3: granting a role through a group needs a password typed within the window', async () => {
    const admin = await viewer(handle.db, 'admin@vigil.test');
    advanceClock(6 * 60_000);
    expect(await addSsoMapping(admin, { claimValue: 'it-admins', roleName: 'admin' })).toMatchObject({ ok: false, error: 'reauth_required' });
    expect(await mapped('it-admins')).toEqual([]);
    expect(await addSsoMapping(admin, { claimValue: 'it-admins', roleName: 'admin', adminPassword: DEMO_PASSWORD })).toMatchObject({ ok: true });
    expect(await mapped('it-admins')).toEqual(['admin']);
  });

  it('rule 1: an admin may not change the mapping of a group the IdP says they are in', async () => {
    const who = { issuer: 'https://login.hospital.example', subject: `admin-${Date.now()}`, email: `sso-admin-${Date.now()}@hospital.test`, emailVerified: true, name: 'SSO Admin', groups: ['it-admins', 'all-staff'], mfa: true };
    await createStaff(handle.db, { email: who.email, roles: [] });
    const signedIn = await signInWithSso(who, TEST_CLIENT);
    expect(signedIn).toMatchObject({ ok: true });
    const ssoAdmin = await viewer(handle.db, who.email);
    const since = await auditHead(handle.db);
    expect(await addSsoMapping(ssoAdmin, { claimValue: 'all-staff', roleName: 'privacy_officer', adminPassword: DEMO_PASSWORD })).toMatchObject({ ok: false, error: 'self_change' });
    expect(await removeSsoMapping(ssoAdmin, { claimValue: 'it-admins', roleName: 'admin' })).toMatchObject({ ok: false, error: 'self_change' });
    expect(await mapped('all-staff')).toEqual([]);
    expect(await mapped('it-admins')).toEqual(['admin']);
    const refusals = [...(await auditOfActionSince(handle.db, since, 'sso_mapping.add')), ...(await auditOfActionSince(handle.db, since, 'sso_mapping.remove'))];
    expect(refusals.map((e) => [e.outcome, (e.details as { reason?: string }).reason])).toEqual([
      ['denied', 'self_change'],
      ['denied', 'self_change'],
    ]);
  });

  it('rule 4: removing the last mapping that makes anyone an administrator is refused', async () => {
    // Only SSO administrators remain: the local ones are disabled.
    const actorEmail = `sso-acting-admin-${Date.now()}@hospital.test`;
    const acting = await createStaff(handle.db, { email: actorEmail, roles: ['admin'] });
    await updateWithMac(handle.db, 'users', eq(users.id, acting.id), { oidcIssuer: 'https://login.hospital.example', oidcSubject: `acting-${Date.now()}`, oidcGroups: ['former-admins'] });
    await updateWithMac(handle.db, 'users', and(isNull(users.oidcSubject), ne(users.id, acting.id)), { disabledAt: now() });
    // A role row forged in SQL makes no local administrator to fall back on.
    const forger = await createStaff(handle.db, { roles: ['nurse'] });
    await handle.db.execute(sql`INSERT INTO user_roles (user_id, role_name) VALUES (${forger.id}, 'admin')`);
    const admin = await viewer(handle.db, actorEmail);
    const since = await auditHead(handle.db);
    expect(await removeSsoMapping(admin, { claimValue: 'it-admins', roleName: 'admin' })).toMatchObject({ ok: false, error: 'last_admin' });
    expect(await mapped('it-admins')).toEqual(['admin']);
    expect((await auditOfActionSince(handle.db, since, 'sso_mapping.remove'))[0]).toMatchObject({ outcome: 'denied' });
    // Removing one that grants no administration is fine.
    expect(await removeSsoMapping(admin, { claimValue: 'ward-7-nurses', roleName: 'nurse' })).toMatchObject({ ok: true });
    expect(await mapped('ward-7-nurses')).toEqual([]);
  });
});
