import 'server-only';
import { asc, count, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable, Tx } from '@/db/client';
import { roles, userRoles } from '@/db/schema';
import { addsPermissions, canAdminister, namesKnownPermission } from '@/lib/domain/access/admin-rules';
import { adminPermission } from '@/lib/domain/access/permission-names';
import { permissionCategories, permissionPattern, permissionSetSchema, type PermissionCategory, type PermissionSet } from '@/lib/domain/access/permissions';
import { auditActions } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { operation, stepUpMessages } from '@/lib/pipeline/operation';
import { adminMessages, adminOnly, adminPassword, adminStepUp, serialisedAdminChange } from '@/lib/features/admin/messages';
import { enabledAdministrators } from '@/lib/features/admin/users';
import { fileRequest, filedMessage } from '@/lib/features/admin/requests';
import { isPrivileged, removesAuditPowers } from '@/lib/domain/access/two-person';

export interface RoleView {
  name: string;
  description: string;
  permissions: PermissionSet;
  builtIn: boolean;
  holders: number;
  /** The optimistic-lock token an edit form sends back. */
  updatedAt: string;
}

const roleReading = {
  action: auditActions.role.view,
  resourceType: 'role',
  ...adminOnly(adminPermission.readRoles),
  audits: 'refusals',
} as const;

/** Every role with how many people hold it. Only a refusal is audited: roles hold no PHI. */
export const listRoles = operation({
  ...roleReading,
  name: 'admin.role.list',
  input: z.unknown(),
  run: async ({ tx }) => ok(await roleViews(tx)),
});

/** One role, by name. */
export const getRole = operation({
  ...roleReading,
  name: 'admin.role.get',
  input: z.string(),
  invalid: () => fail('not_found', adminMessages.not_found),
  run: async ({ tx, input }) => {
    const role = (await roleViews(tx)).find((r) => r.name === input);
    return role ? ok(role) : fail('not_found', adminMessages.not_found);
  },
});

async function roleViews(q: Queryable): Promise<RoleView[]> {
  const rows = await q.select().from(roles).orderBy(asc(roles.name));
  const holders = await q.select({ name: userRoles.roleName, n: count() }).from(userRoles).groupBy(userRoles.roleName);
  const held = new Map(holders.map((h) => [h.name, Number(h.n)]));
  return rows.map((r) => ({
    name: r.name,
    description: r.description,
    permissions: r.permissions as PermissionSet,
    builtIn: r.builtIn,
    holders: held.get(r.name) ?? 0,
    updatedAt: r.updatedAt.toISOString(),
  }));
}

/** Form text → patterns: one per line (commas also separate), blanks dropped. */
const patternLines = z.preprocess(
  (v) => (Array.isArray(v) ? v : typeof v === 'string' ? v.split(/[\n,]/) : []),
  z.array(z.string()).transform((lines) => lines.map((l) => l.trim()).filter(Boolean)),
);

const editRoleSchema = z.object({
  name: z.string().max(40),
  expectedUpdatedAt: z.iso.datetime({ message: 'Reload the page and try again.' }),
  permissions: z.object(Object.fromEntries(permissionCategories.map((c) => [c, patternLines.optional()]))),
  adminPassword,
});

/**
 * Replaces a role's permissions after validating every star pattern. The editor may not hold the
 * role (rule 2), and the edit may not take the power to assign roles from the last administrators
 * (rule 4). Adding a pattern, or taking an audit pattern away (privacy officers' powers), is
 * filed for a second administrator with a fresh password (rule 3, two-person rule); an edit that
 * only narrows other powers applies now. Two admins editing the same role at once: the second
 * gets a conflict instead of overwriting the first.
 */
export const updateRolePermissions = operation({
  name: 'admin.role.update-permissions',
  action: auditActions.role.update,
  resourceType: 'role',
  ...adminOnly(adminPermission.editRoles),
  target: (raw) => (raw as { name?: unknown } | null)?.name,
  input: editRoleSchema,
  invalid: (error) => fail('invalid', adminMessages.invalid, { form: error.issues[0]?.message ?? 'Reload the page and try again.' }),
  stepUp: adminStepUp,
  ...serialisedAdminChange,
  auditedFailures: ['self_change', 'reauth_required', 'last_admin'],
  run: async (ctx): Promise<Result<{ permissions: PermissionSet; requestId: string | null }, 'invalid' | 'not_found' | 'self_change' | 'conflict' | 'reauth_required' | 'last_admin'>> => {
    const { tx, viewer, input, actor, recentlyReauthenticated, at, audit } = ctx;
    const checked = validatePermissions(input.permissions as Record<PermissionCategory, string[] | undefined>);
    if (!checked.ok) return fail('invalid', 'Some permission patterns are not valid. Nothing was changed.', checked.fieldErrors);
    const after = checked.permissions;
    const [role] = await tx.select().from(roles).where(eq(roles.name, input.name)).limit(1);
    if (!role) return fail('not_found', adminMessages.not_found);
    // recheckActor: the editor's roles as they are now, under the lock.
    if (actor!.roles.includes(role.name)) return fail('self_change', adminMessages.self_change);
    if (role.updatedAt.getTime() !== new Date(input.expectedUpdatedAt).getTime()) return fail('conflict', adminMessages.conflict);
    const before = role.permissions as PermissionSet;
    const needsSecondPerson = addsPermissions(before, after) || removesAuditPowers(before, after);
    if (needsSecondPerson && !recentlyReauthenticated) return fail('reauth_required', stepUpMessages.reauth_required);
    if (canAdminister(before) && !canAdminister(after) && (await enabledAdministrators(tx, { roleEdit: { name: role.name, permissions: after } })) === 0) {
      return fail('last_admin', adminMessages.last_admin);
    }
    if (needsSecondPerson) {
      const { requestId } = await fileRequest(ctx, {
        kind: 'edit_role',
        targetRole: role.name,
        change: { permissions: after as Record<string, string[]>, expectedUpdatedAt: role.updatedAt.toISOString() },
        privileged: isPrivileged(after) && addsPermissions(before, after),
      });
      return ok({ permissions: before, requestId }, filedMessage('admin'));
    }
    await applyRolePermissions(tx, role.name, after, viewer.userId, at);
    await audit({ resourceId: role.name, details: { before: { permissions: before }, after: { permissions: after } } });
    return ok({ permissions: after, requestId: null }, `Permissions of the ${role.name} role saved. They apply to holders on their next request.`);
  },
});

/** Writes a role's permissions, as edited by `by`. */
export async function applyRolePermissions(tx: Tx, name: string, permissions: PermissionSet, by: string, at: Date): Promise<void> {
  await tx.update(roles).set({ permissions, updatedAt: at, updatedBy: by }).where(eq(roles.name, name));
}

type Checked = { ok: true; permissions: PermissionSet } | { ok: false; fieldErrors: Record<string, string> };

/**
 * Each line checked on its own — star-pattern syntax (permissionPattern), then a known name —
 * so every category with a problem gets a message naming the line; then the whole set against
 * permissionSetSchema (the shape roles are stored in).
 */
export function validatePermissions(input: Record<PermissionCategory, string[] | undefined>): Checked {
  const fieldErrors: Record<string, string> = {};
  const candidate: PermissionSet = {};
  for (const category of permissionCategories) {
    const patterns = [...new Set(input[category] ?? [])];
    patterns.forEach((pattern, index) => {
      if (fieldErrors[category]) return;
      const line = `Line ${index + 1} (“${pattern.slice(0, 40)}”): `;
      const syntax = permissionPattern.safeParse(pattern);
      if (!syntax.success) fieldErrors[category] = `${line}${syntax.error.issues[0]?.message}`;
      else if (!namesKnownPermission(category, syntax.data)) fieldErrors[category] = `${line}this names no permission Vigil knows. Check the spelling.`;
    });
    if (patterns.length) candidate[category] = patterns;
  }
  if (Object.keys(fieldErrors).length) return { ok: false, fieldErrors };
  const parsed = permissionSetSchema.safeParse(candidate);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) fieldErrors[String(issue.path[0] ?? 'form')] ??= issue.message;
    return { ok: false, fieldErrors };
  }
  return { ok: true, permissions: parsed.data };
}
