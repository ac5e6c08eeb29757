import 'server-only';
import { and, eq, sql } from 'drizzle-orm';
import type { Queryable } from '@/db/client';
import { builtOnce } from '@/db/statements';
import { roles, sessions, userRoles, users } from '@/db/schema';
import { unionPermissions, type PermissionSet } from '@/lib/domain/access/permissions';
import type { Viewer } from '@/lib/domain/access/viewer';
import { intactRow, intactRows, macColumns } from '@/lib/platform/integrity';

export interface Actor {
  roles: string[];
  permissions: PermissionSet;
}

/**
 * A held role as one read gives it: the user_roles row (what its MAC covers) and its role's
 * permissions, if the role exists. Selected beside a user row, with user_roles and roles
 * left-joined on, so the user and their roles come back in one statement (heldRolesOf).
 */
export const roleColumns = { ...macColumns.user_roles, permissions: roles.permissions };
/**
 * Role rows in the order they were granted, and rows granted in the same millisecond in the
 * order they were stored (their place in the table, as a bare read of user_roles gave them):
 * a check reports tampered rows in that order whatever plan the join takes.
 */
export const roleOrder = [userRoles.grantedAt, sql`${userRoles}.ctid`] as const;
export type HeldRole = { userId: string; roleName: string; authMac: string | null; permissions: PermissionSet | null };

/** The role rows of such a read: a user with no role comes back as one row whose role columns are all null. */
export function heldRolesOf(rows: ReadonlyArray<{ role: { userId: string | null; roleName: string | null; authMac: string | null; permissions: PermissionSet | null } | null }>): HeldRole[] {
  return rows.flatMap(({ role }) => (role && role.userId !== null && role.roleName !== null ? [{ ...role, userId: role.userId, roleName: role.roleName }] : []));
}

/** The roles of intact role rows, sorted, and the union of their permissions: a role row that fails its MAC is no role. */
export async function actorOf(q: Queryable, rows: HeldRole[]): Promise<Actor> {
  const intact = await intactRows(q, 'user_roles', rows);
  return {
    roles: intact.map((r) => r.roleName).sort(),
    permissions: unionPermissions(intact.flatMap((r) => (r.permissions ? [r.permissions] : []))),
  };
}

/** A user's roles and the union of their permissions, as stored now, in one statement. */
export async function loadRolesAndPermissions(q: Queryable, userId: string): Promise<Actor> {
  const rows = await q.select(roleColumns).from(userRoles).leftJoin(roles, eq(roles.name, userRoles.roleName)).where(eq(userRoles.userId, userId)).orderBy(...roleOrder);
  return actorOf(q, rows);
}

/** actorNow's one statement, built once: every write runs it under its lock. */
const actorRows = builtOnce('actor_now', (q) =>
  q
    .select({ session: macColumns.sessions, user: macColumns.users, role: roleColumns })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .leftJoin(userRoles, eq(userRoles.userId, users.id))
    .leftJoin(roles, eq(roles.name, userRoles.roleName))
    .where(and(eq(sessions.id, sql.placeholder('sessionId')), eq(sessions.userId, sql.placeholder('userId'))))
    .orderBy(...roleOrder),
);

/**
 * The viewer as they are at this moment, or null if their account was disabled or their sign-in
 * ended since the request began: a viewer's permissions were read when the request started, and
 * an operation that serialises on a lock re-reads them under it. One statement: the session, its
 * user and their roles (a row per role held, or one with no role), each row checked by its MAC.
 */
export async function actorNow(q: Queryable, viewer: Pick<Viewer, 'userId' | 'sessionId'>): Promise<Actor | null> {
  const rows = await actorRows(q, { sessionId: viewer.sessionId, userId: viewer.userId });
  const [row] = rows;
  if (!row || row.user.disabledAt || row.session.revokedAt) return null;
  if (!(await intactRow(q, 'sessions', row.session)) || !(await intactRow(q, 'users', row.user))) return null;
  return actorOf(q, heldRolesOf(rows));
}
