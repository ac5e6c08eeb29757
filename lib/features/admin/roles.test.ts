/**
 * Role editing: star patterns validated line by line, typos refused, the self-escalation rule
 * (no editing a role you hold; adding needs a fresh password; the last administrator keeps the
 * power to assign roles), optimistic locking between two admins, and the effect on holders.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { desc, eq } from 'drizzle-orm';
import { auditLog, roles } from '@/db/schema';
import { DEMO_PASSWORD } from '@/db/seed';
import { defaultRoles } from '@/lib/domain/access/roles';
import type { Viewer } from '@/lib/domain/access/viewer';
import { advanceClock, resetClock } from '@/lib/platform/clock';
import { getChart } from '@/lib/features/records/chart';
import { createStaff, patientOnTeamOf, testDatabase, viewer } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { approve, secondAdmin } from '@/test/approvals';
import { getRole, listRoles, updateRolePermissions, validatePermissions } from '@/lib/features/admin/roles';

let handle: TestDatabase;
let admin: Viewer;

beforeAll(async () => {
  handle = await testDatabase({ patients: 10 });
});

beforeEach(async () => {
  admin = await viewer(handle.db, 'admin@vigil.test');
});

afterEach(() => resetClock());

afterAll(async () => {
  await handle?.close();
});

async function tokenOf(name: string): Promise<string> {
  const role = await getRole(admin, name);
  if (!role.ok) throw new Error(role.message);
  return role.value.updatedAt;
}

const nursePermissions = defaultRoles.nurse.permissions;
const asText = (patterns: string[] | undefined) => (patterns ?? []).join('\n');

describe('validating star patterns', () => {
  it.each([
    ['patient*', 'ehr_read'],
    ['*.vitals', 'ehr_read'],
    ['Patient.Vitals', 'ehr_read'],
    ['patient..vitals', 'ehr_read'],
    ['patient.vitals.', 'ehr_write'],
    ['patient.**', 'ehr_read'],
  ])('"%s" is not a pattern', (pattern, category) => {
    const result = validatePermissions({ [category]: ['patient.demographics', pattern] } as never);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.fieldErrors[category]).toMatch(/^Line 2 .*dot-separated lower-case names/);
  });

  it.each([
    ['patient.vitalz', 'ehr_read'],
    ['users.*', 'ehr_write'],
    ['patient.*', 'admin'],
    ['nothing.here', 'audit'],
  ])('"%s" names nothing Vigil knows in %s', (pattern, category) => {
    const result = validatePermissions({ [category]: [pattern] } as never);
    expect(result).toMatchObject({ ok: false, fieldErrors: { [category]: expect.stringMatching(/names no permission Vigil knows/) } });
  });

  it('accepts the built-in roles as they are', () => {
    for (const role of Object.values(defaultRoles)) expect(validatePermissions(role.permissions as never)).toEqual({ ok: true, permissions: role.permissions });
  });
});

describe('updateRolePermissions', () => {
  it('saves valid patterns, audits before and after, and holders see the change on their next request', async () => {
    // A nurse's nursing rows allow no more than the nurse role (the relationship lens), so the
    // change holders can see is a narrowing and its undoing: problems taken away, then put back.
    const nurse = await viewer(handle.db, 'nurse@vigil.test');
    const patientId = await patientOnTeamOf(handle.db, nurse.userId);
    const before = await getChart(nurse, patientId);
    expect(before.ok && 'problems' in before.value.sections).toBe(true);

    const narrowed = (nursePermissions.ehr_read ?? []).filter((p) => p !== 'patient.problems');
    const others = { ehr_write: asText(nursePermissions.ehr_write), emergency: 'break_glass' };
    // Taking a pattern away needs no password and no second administrator.
    expect(
      await updateRolePermissions(admin, { name: 'nurse', expectedUpdatedAt: await tokenOf('nurse'), permissions: { ehr_read: asText(narrowed), ...others } }),
    ).toMatchObject({ ok: true, value: { permissions: { ehr_read: narrowed } } });
    const nurseNarrowed = await getChart(await viewer(handle.db, 'nurse@vigil.test'), patientId);
    expect(nurseNarrowed.ok && 'problems' in nurseNarrowed.value.sections).toBe(false);

    const result = await updateRolePermissions(admin, {
      name: 'nurse',
      expectedUpdatedAt: await tokenOf('nurse'),
      permissions: { ehr_read: asText(nursePermissions.ehr_read), ...others },
      adminPassword: DEMO_PASSWORD,
    });
    // Adding a pattern waits for a second administrator.
    expect(result).toMatchObject({ ok: true, value: { permissions: { ehr_read: narrowed } } });
    const stillNarrowed = await getChart(await viewer(handle.db, 'nurse@vigil.test'), patientId);
    expect(stillNarrowed.ok && 'problems' in stillNarrowed.value.sections).toBe(false);
    await approve(await secondAdmin(handle.db), result);
    const [audit] = await handle.db.select().from(auditLog).where(eq(auditLog.actionType, 'role.update')).orderBy(desc(auditLog.seq)).limit(1);
    expect(audit).toMatchObject({
      outcome: 'allowed',
      resourceType: 'role',
      resourceId: 'nurse',
      details: { before: { permissions: { ehr_read: narrowed } }, after: { permissions: { ehr_read: nursePermissions.ehr_read } } },
    });

    const after = await getChart(await viewer(handle.db, 'nurse@vigil.test'), patientId);
    expect(after.ok && 'problems' in after.value.sections).toBe(true);
  });

  it('refuses invalid patterns with a message per category and changes nothing', async () => {
    const token = await tokenOf('billing');
    const result = await updateRolePermissions(admin, {
      name: 'billing',
      expectedUpdatedAt: token,
      permissions: { ehr_read: 'patient.demographics\npatient*', ehr_write: 'patient.encounters.billing_statuz' },
    });
    expect(result).toMatchObject({ ok: false, error: 'invalid', fieldErrors: { ehr_read: expect.stringMatching(/^Line 2/), ehr_write: expect.stringMatching(/^Line 1/) } });
    expect(await tokenOf('billing')).toBe(token);
  });

  it('rule 2: an admin cannot edit a role they hold', async () => {
    const result = await updateRolePermissions(admin, {
      name: 'admin',
      expectedUpdatedAt: await tokenOf('admin'),
      permissions: { ...defaultRoles.admin.permissions, ehr_read: 'patient.*' },
      adminPassword: DEMO_PASSWORD,
    });
    expect(result).toMatchObject({ ok: false, error: 'self_change' });
    const [row] = await handle.db.select().from(roles).where(eq(roles.name, 'admin'));
    expect(row?.permissions).toEqual(defaultRoles.admin.permissions);
  });

  it('rule 3: adding a pattern after the window needs the password', async () => {
    advanceClock(6 * 60_000);
    const input = {
      name: 'billing',
      expectedUpdatedAt: await tokenOf('billing'),
      permissions: { ...defaultRoles.billing.permissions, ehr_read: 'patient.*' },
    };
    expect(await updateRolePermissions(admin, input)).toMatchObject({ ok: false, error: 'reauth_required' });
    expect((await getRole(admin, 'billing')).ok && (await getRole(admin, 'billing'))).toMatchObject({ value: { permissions: defaultRoles.billing.permissions } });
  });

  it('rule 4: a role editor cannot take the power to assign roles from the last administrators', async () => {
    await handle.db.insert(roles).values({ name: 'role_editor', description: 'Edits roles', permissions: { admin: ['roles.*'] } });
    const editor = await viewer(handle.db, (await createStaff(handle.db, { roles: ['role_editor'] })).email);
    const result = await updateRolePermissions(editor, {
      name: 'admin',
      expectedUpdatedAt: await tokenOf('admin'),
      permissions: { admin: 'roles.*\ncare_teams.*' },
      adminPassword: DEMO_PASSWORD,
    });
    expect(result).toMatchObject({ ok: false, error: 'last_admin' });
  });

  it('two admins editing the same role: the second gets a conflict, not an overwrite', async () => {
    const other = await viewer(handle.db, (await createStaff(handle.db, { roles: ['admin'] })).email);
    const token = await tokenOf('nurse');
    const first = await updateRolePermissions(admin, { name: 'nurse', expectedUpdatedAt: token, permissions: { ...nursePermissions, emergency: '' } });
    const second = await updateRolePermissions(other, { name: 'nurse', expectedUpdatedAt: token, permissions: { ...nursePermissions, ehr_write: 'patient.vitals' } });
    expect(first).toMatchObject({ ok: true });
    expect(second).toMatchObject({ ok: false, error: 'conflict' });
    const [row] = await handle.db.select().from(roles).where(eq(roles.name, 'nurse'));
    expect(row?.permissions).toEqual({ ehr_read: nursePermissions.ehr_read, ehr_write: nursePermissions.ehr_write });
  });

  it('is denied to non-admins and to a missing role', async () => {
    const physician = await viewer(handle.db, 'physician@vigil.test');
    expect(await listRoles(physician)).toMatchObject({ ok: false, error: 'denied' });
    expect(await updateRolePermissions(physician, { name: 'nurse', expectedUpdatedAt: new Date().toISOString(), permissions: {} })).toMatchObject({ error: 'denied' });
    expect(await updateRolePermissions(admin, { name: 'surgeon', expectedUpdatedAt: new Date().toISOString(), permissions: {} })).toMatchObject({ error: 'not_found' });
  });
});
