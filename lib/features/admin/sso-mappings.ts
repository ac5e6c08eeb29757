import 'server-only';
import { and, asc, eq, inArray, isNotNull, isNull } from 'drizzle-orm';
import { z } from 'zod';
import type { Tx } from '@/db/client';
import { roles, ssoRoleMappings, userRoles, users } from '@/db/schema';
import { canAdminister, grantsPermissions } from '@/lib/domain/access/admin-rules';
import { adminPermission } from '@/lib/domain/access/permission-names';
import type { PermissionSet } from '@/lib/domain/access/permissions';
import { auditActions } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { claimValueSchema, rolesForGroups, type RoleMapping } from '@/lib/domain/sso/claims';
import { operation, stepUpMessages } from '@/lib/pipeline/operation';
import { intactRow, macColumns } from '@/lib/platform/integrity';
import { adminMessages, adminOnly, adminPassword, adminStepUp, serialisedAdminChange } from '@/lib/features/admin/messages';

/*
 * Which identity provider group grants which Vigil role. An SSO account's roles are exactly what
 * its groups map to, set at each sign-in (lib/features/auth/sso.ts), so a mapping is a role
 * assignment to everyone in the group and is held to the same self-escalation rules
 * (lib/domain/access/admin-rules.ts):
 *
 * 1. An admin does not change the mapping of a group they are in (as the IdP last asserted it):
 *    that would be changing their own roles.
 * 3. Mapping a group to a role that grants anything needs a fresh password; removing one does not.
 * 4. Removing a mapping may not leave no one able to assign roles once the IdP's accounts sign in
 *    again: local administrators count, and SSO administrators whose groups still map to an
 *    administering role.
 *
 * Each change is one self-contained operation (permission, step-up, lock, audit), so a
 * two-person approval can later be put in front of it without changing what it does.
 */

export interface SsoMappingView {
  claimValue: string;
  roleName: string;
  createdAt: string;
}

export const listSsoMappings = operation({
  name: 'admin.sso-mapping.list',
  action: auditActions.ssoMapping.view,
  resourceType: 'sso_mapping',
  ...adminOnly(adminPermission.readRoles),
  audits: 'refusals',
  input: z.unknown(),
  run: async ({ tx }) => {
    const rows = await tx.select().from(ssoRoleMappings).orderBy(asc(ssoRoleMappings.claimValue), asc(ssoRoleMappings.roleName));
    return ok(rows.map((r): SsoMappingView => ({ claimValue: r.claimValue, roleName: r.roleName, createdAt: r.createdAt.toISOString() })));
  },
});

const mappingSchema = z.object({
  claimValue: claimValueSchema,
  roleName: z.string({ error: 'Choose a role from the list.' }).regex(/^[a-z][a-z0-9_]{0,39}$/, 'Choose a role from the list.'),
  adminPassword,
});

const mappingChange = {
  resourceType: 'sso_mapping',
  ...adminOnly(adminPermission.assignRoles),
  input: mappingSchema,
  target: (raw: unknown) => (raw as { claimValue?: unknown } | null)?.claimValue,
  invalid: (error: z.ZodError) =>
    fail('invalid', adminMessages.invalid, Object.fromEntries(error.issues.map((issue) => [String(issue.path[0] ?? 'form'), issue.message]))),
  stepUp: adminStepUp,
  ...serialisedAdminChange,
} as const;

const selfChange = () => fail('self_change', 'You are in this group, so this would change your own access. Ask another administrator.');

/** The groups the identity provider last asserted for the acting admin (none for a local account). */
async function ownGroups(tx: Tx, userId: string): Promise<string[]> {
  const [row] = await tx.select({ groups: users.oidcGroups }).from(users).where(eq(users.id, userId)).limit(1);
  return row?.groups ?? [];
}

export const addSsoMapping = operation({
  ...mappingChange,
  name: 'admin.sso-mapping.add',
  action: auditActions.ssoMapping.add,
  auditedFailures: ['self_change', 'reauth_required'],
  run: async ({ tx, viewer, input, recentlyReauthenticated, at, audit, unchanged }): Promise<Result<RoleMapping, 'invalid' | 'self_change' | 'reauth_required'>> => {
    const { claimValue, roleName } = input;
    const [role] = await tx.select({ name: roles.name, permissions: roles.permissions }).from(roles).where(eq(roles.name, roleName)).limit(1);
    if (!role) return fail('invalid', adminMessages.invalid, { roleName: 'Choose a role from the list.' });
    if ((await ownGroups(tx, viewer.userId)).includes(claimValue)) return selfChange();
    const [existing] = await tx
      .select()
      .from(ssoRoleMappings)
      .where(and(eq(ssoRoleMappings.claimValue, claimValue), eq(ssoRoleMappings.roleName, roleName)))
      .limit(1);
    if (existing) {
      unchanged();
      return ok({ claimValue, roleName }, 'No change: that group already grants this role.');
    }
    if (grantsPermissions(role.permissions as PermissionSet) && !recentlyReauthenticated) return fail('reauth_required', stepUpMessages.reauth_required);
    await tx.insert(ssoRoleMappings).values({ claimValue, roleName, createdBy: viewer.userId, createdAt: at });
    await audit({ resourceId: claimValue, details: { after: { claimValue, roleName } } });
    return ok({ claimValue, roleName }, `Members of “${claimValue}” get the ${roleName} role from their next sign-in.`);
  },
});

export const removeSsoMapping = operation({
  ...mappingChange,
  name: 'admin.sso-mapping.remove',
  action: auditActions.ssoMapping.remove,
  auditedFailures: ['self_change', 'last_admin'],
  run: async ({ tx, viewer, input, audit, unchanged }): Promise<Result<RoleMapping, 'self_change' | 'last_admin'>> => {
    const { claimValue, roleName } = input;
    if ((await ownGroups(tx, viewer.userId)).includes(claimValue)) return selfChange();
    const all = await tx.select().from(ssoRoleMappings);
    if (!all.some((m) => m.claimValue === claimValue && m.roleName === roleName)) {
      unchanged();
      return ok({ claimValue, roleName }, 'No change: that mapping was already gone.');
    }
    const remaining = all.filter((m) => !(m.claimValue === claimValue && m.roleName === roleName));
    if ((await administratorsAfter(tx, remaining)) === 0) return fail('last_admin', adminMessages.last_admin);
    await tx.delete(ssoRoleMappings).where(and(eq(ssoRoleMappings.claimValue, claimValue), eq(ssoRoleMappings.roleName, roleName)));
    await audit({ resourceId: claimValue, details: { before: { claimValue, roleName } } });
    return ok({ claimValue, roleName }, `Members of “${claimValue}” lose the ${roleName} role at their next sign-in.`);
  },
});

/**
 * Enabled accounts able to assign roles (rule 4) once every SSO account has signed in again under
 * `mappings`: local accounts keep the roles they hold; SSO accounts get what their last groups map to.
 */
async function administratorsAfter(tx: Tx, mappings: RoleMapping[]): Promise<number> {
  const adminRoles = new Set(
    (await tx.select({ name: roles.name, permissions: roles.permissions }).from(roles)).filter((r) => canAdminister(r.permissions as PermissionSet)).map((r) => r.name),
  );
  if (adminRoles.size === 0) return 0;
  const holders = await tx
    .select({ user: macColumns.users, role: macColumns.user_roles })
    .from(userRoles)
    .innerJoin(users, eq(users.id, userRoles.userId))
    .where(and(isNull(users.disabledAt), isNull(users.oidcSubject), inArray(userRoles.roleName, [...adminRoles])));
  const linked = await tx.select({ user: macColumns.users, groups: users.oidcGroups }).from(users).where(and(isNull(users.disabledAt), isNotNull(users.oidcSubject)));
  // An account or role row forged in SQL is no administrator to fall back on.
  const counted = new Set<string>();
  for (const { user, role } of holders) if ((await intactRow(tx, 'users', user)) && (await intactRow(tx, 'user_roles', role))) counted.add(user.id);
  for (const { user, groups } of linked) if (rolesForGroups(mappings, groups ?? []).some((r) => adminRoles.has(r)) && (await intactRow(tx, 'users', user))) counted.add(user.id);
  return counted.size;
}
