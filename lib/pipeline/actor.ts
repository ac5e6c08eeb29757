import 'server-only';
import { and, eq, inArray } from 'drizzle-orm';
import type { Queryable } from '@/db/client';
import { roles, sessions, users } from '@/db/schema';
import { unionPermissions, type PermissionSet } from '@/lib/domain/access/permissions';
import type { Viewer } from '@/lib/domain/access/viewer';
import { heldRoleNames, intactRow, macColumns } from '@/lib/platform/integrity';

export interface Actor {
  roles: string[];
  permissions: PermissionSet;
}

/** A user's roles and the union of their permissions, as stored now: a role row that fails its MAC is no role. */
export async function loadRolesAndPermissions(q: Queryable, userId: string): Promise<Actor> {
  const names = await heldRoleNames(q, userId);
  if (names.length === 0) return { roles: [], permissions: {} };
  const rows = await q.select().from(roles).where(inArray(roles.name, names));
  return { roles: names, permissions: unionPermissions(rows.map((r) => r.permissions)) };
}

/**
 * The viewer as they are at this moment, or null if their account was disabled or their sign-in
 * ended since the request began: a viewer's permissions were read when the request started, and
 * an operation that serialises on a lock re-reads them under it.
 */
export async function actorNow(q: Queryable, viewer: Pick<Viewer, 'userId' | 'sessionId'>): Promise<Actor | null> {
  const [row] = await q
    .select({ session: macColumns.sessions, user: macColumns.users })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.id, viewer.sessionId), eq(sessions.userId, viewer.userId)))
    .limit(1);
  if (!row || row.user.disabledAt || row.session.revokedAt) return null;
  if (!(await intactRow(q, 'sessions', row.session)) || !(await intactRow(q, 'users', row.user))) return null;
  return loadRolesAndPermissions(q, viewer.userId);
}
