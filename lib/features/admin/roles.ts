import 'server-only';
import { asc, count, eq } from 'drizzle-orm';
import { z } from 'zod';
import { getDb } from '@/db/client';
import { roles, userRoles } from '@/db/schema';
import { addsPermissions, adminPermission, canAdminister, namesKnownPermission } from '@/lib/domain/access/admin-rules';
import { permissionCategories, permissionPattern, permissionSetSchema, type PermissionCategory, type PermissionSet } from '@/lib/domain/access/permissions';
import type { Viewer } from '@/lib/domain/access/viewer';
import { now as clockNow } from '@/lib/platform/clock';
import { adminChange, mayRead } from '@/lib/features/admin/change';
import { done, invalidInput, refuse, type AdminResult } from '@/lib/features/admin/result';
import { enabledAdministrators } from '@/lib/features/admin/users';

export interface RoleView {
  name: string;
  description: string;
  permissions: PermissionSet;
  builtIn: boolean;
  holders: number;
  /** The optimistic-lock token an edit form sends back. */
  updatedAt: string;
}

export async function listRoles(viewer: Viewer): Promise<AdminResult<RoleView[]>> {
  if (!(await mayRead(viewer, adminPermission.readRoles, 'role'))) return refuse('denied');
  const db = await getDb();
  const rows = await db.select().from(roles).orderBy(asc(roles.name));
  const holders = await db.select({ name: userRoles.roleName, n: count() }).from(userRoles).groupBy(userRoles.roleName);
  const held = new Map(holders.map((h) => [h.name, Number(h.n)]));
  return done(
    rows.map((r) => ({
      name: r.name,
      description: r.description,
      permissions: r.permissions as PermissionSet,
      builtIn: r.builtIn,
      holders: held.get(r.name) ?? 0,
      updatedAt: r.updatedAt.toISOString(),
    })),
    '',
  );
}

export async function getRole(viewer: Viewer, name: string): Promise<AdminResult<RoleView>> {
  const all = await listRoles(viewer);
  if (!all.ok) return all;
  const role = all.value.find((r) => r.name === name);
  return role ? done(role, '') : refuse('not_found');
}

/** Form text → patterns: one per line (commas also separate), blanks dropped. */
const patternLines = z.preprocess(
  (v) => (Array.isArray(v) ? v : typeof v === 'string' ? v.split(/[\n,]/) : []),
  z.array(z.string()).transform((lines) => lines.map((l) => l.trim()).filter(Boolean)),
);

export const editRoleSchema = z.object({
  name: z.string().max(40),
  expectedUpdatedAt: z.iso.datetime({ message: 'Reload the page and try again.' }),
  permissions: z.object(Object.fromEntries(permissionCategories.map((c) => [c, patternLines.optional()]))),
  adminPassword: z.string().max(1024).optional(),
});

/**
 * Replaces a role's permissions after validating every star pattern. The editor may not hold the
 * role (rule 2), adding a pattern needs a fresh password (rule 3), and the edit may not take the
 * power to assign roles from the last administrators (rule 4). Two admins editing the same role
 * at once: the second gets a conflict instead of overwriting the first.
 */
export async function updateRolePermissions(viewer: Viewer, input: unknown): Promise<AdminResult<{ permissions: PermissionSet }>> {
  const raw = input as { name?: unknown; adminPassword?: unknown } | null;
  const password = typeof raw?.adminPassword === 'string' && raw.adminPassword.length <= 1024 ? raw.adminPassword : null;
  return adminChange(viewer, { permission: adminPermission.editRoles, action: 'role.update', resourceType: 'role', target: raw?.name, password }, async (ctx) => {
    const parsed = editRoleSchema.safeParse(input);
    if (!parsed.success) return invalidInput({ form: parsed.error.issues[0]?.message ?? 'Reload the page and try again.' });
    const checked = validatePermissions(parsed.data.permissions as Record<PermissionCategory, string[] | undefined>);
    if (!checked.ok) return invalidInput(checked.fieldErrors, 'Some permission patterns are not valid. Nothing was changed.');
    const after = checked.permissions;
    const [role] = await ctx.tx.select().from(roles).where(eq(roles.name, parsed.data.name)).limit(1);
    if (!role) return refuse('not_found');
    if (ctx.actorRoles.includes(role.name)) return refuse('self_change');
    if (role.updatedAt.getTime() !== new Date(parsed.data.expectedUpdatedAt).getTime()) return refuse('conflict');
    const before = role.permissions as PermissionSet;
    if (addsPermissions(before, after) && !ctx.recentlyReauthenticated) return refuse('reauth_required');
    if (canAdminister(before) && !canAdminister(after) && (await enabledAdministrators(ctx.tx, { roleEdit: { name: role.name, permissions: after } })) === 0) {
      return refuse('last_admin');
    }
    await ctx.tx.update(roles).set({ permissions: after, updatedAt: clockNow(), updatedBy: viewer.userId }).where(eq(roles.name, role.name));
    await ctx.audit({ resourceId: role.name, details: { before: { permissions: before }, after: { permissions: after } } });
    return done({ permissions: after }, `Permissions of the ${role.name} role saved. They apply to holders on their next request.`);
  });
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
