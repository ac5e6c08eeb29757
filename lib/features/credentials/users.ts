import 'server-only';
import { eq, inArray } from 'drizzle-orm';
import type { Queryable } from '@/db/client';
import { roles, userRoles } from '@/db/schema';
import { unionPermissions, type PermissionSet } from '@/lib/domain/access/permissions';

export async function loadRolesAndPermissions(q: Queryable, userId: string): Promise<{ roles: string[]; permissions: PermissionSet }> {
  const held = await q.select({ roleName: userRoles.roleName }).from(userRoles).where(eq(userRoles.userId, userId));
  const names = held.map((r) => r.roleName).sort();
  if (names.length === 0) return { roles: [], permissions: {} };
  const rows = await q.select().from(roles).where(inArray(roles.name, names));
  return { roles: names, permissions: unionPermissions(rows.map((r) => r.permissions)) };
}

export const normaliseEmail = (email: string) => email.trim().toLowerCase();
