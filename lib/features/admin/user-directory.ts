import 'server-only';
import { and, asc, eq, gt, inArray, isNull, max, or } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable } from '@/db/client';
import { careTeam, sessions, userRoles, users } from '@/db/schema';
import { adminPermission } from '@/lib/domain/access/permission-names';
import { auditActions } from '@/lib/domain/audit/actions';
import { fail, ok } from '@/lib/domain/result';
import { operation } from '@/lib/pipeline/operation';
import { adminMessages, adminOnly } from '@/lib/features/admin/messages';
import { checkedRows, macColumns } from '@/lib/platform/integrity';

/**
 * The user administration pages' view of accounts: no PHI, only who holds which access. A row
 * altered outside Vigil is shown as what it is, never as access the person has: an account whose
 * own row fails is `tampered` (sign-in treats it as disabled), a role or care-team row that fails
 * is listed apart from the real ones. Each is reported as any read's is.
 */
export type UserStatus = 'active' | 'disabled' | 'locked' | 'tampered';

export interface UserSummary {
  id: string;
  email: string;
  displayName: string;
  /** Roles whose rows are intact: what the person holds. */
  roles: string[];
  /** Role rows that fail their check: written outside Vigil, granting nothing. */
  tamperedRoles: string[];
  status: UserStatus;
  disabledAt: string | null;
  lastSignInAt: string | null;
  careTeamAssignments: number;
  /** Current care-team rows that fail their check, opening no chart. */
  tamperedAssignments: number;
}

export interface UserDetail extends UserSummary {
  disabledReason: string | null;
  createdAt: string;
  mfaEnrolled: boolean;
}

const userDirectory = {
  action: auditActions.user.view,
  resourceType: 'user',
  ...adminOnly(adminPermission.readUsers),
  audits: 'refusals',
} as const;

/** Every account, by email. Only a refusal is audited: the list holds no PHI. */
export const listUsers = operation({
  ...userDirectory,
  name: 'admin.user.list',
  input: z.unknown(),
  run: async ({ tx, at }) => ok(await summarise(tx, await tx.select().from(users).orderBy(asc(users.email)), at)),
});

/** One account, by id: an id that is not one reads as an account that no longer exists. */
export const getUser = operation({
  ...userDirectory,
  name: 'admin.user.get',
  input: z.uuid(),
  invalid: () => fail('not_found', adminMessages.not_found),
  run: async ({ tx, input, at }) => {
    const [row] = await tx.select().from(users).where(eq(users.id, input)).limit(1);
    if (!row) return fail('not_found', adminMessages.not_found);
    const summary = (await summarise(tx, [row], at))[0]!;
    return ok<UserDetail>({
      ...summary,
      disabledReason: row.disabledReason,
      createdAt: row.createdAt.toISOString(),
      // A tampered row's enrolment is not believed either.
      mfaEnrolled: summary.status !== 'tampered' && Boolean(row.totpEnabledAt),
    });
  },
});

/** Roles, last sign-in and active care-team rows of each user, in three queries, each role and care-team row checked. */
async function summarise(db: Queryable, rows: Array<typeof users.$inferSelect>, at: Date): Promise<UserSummary[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const accounts = await checkedRows(db, 'users', rows);
  const held = await checkedRows(db, 'user_roles', await db.select().from(userRoles).where(inArray(userRoles.userId, ids)).orderBy(asc(userRoles.roleName)));
  const signIns = await db
    .select({ userId: sessions.userId, last: max(sessions.createdAt) })
    .from(sessions)
    .where(inArray(sessions.userId, ids))
    .groupBy(sessions.userId);
  const teams = await checkedRows(
    db,
    'care_team',
    await db
      .select(macColumns.care_team)
      .from(careTeam)
      .where(and(inArray(careTeam.userId, ids), or(isNull(careTeam.untilAt), gt(careTeam.untilAt, at)))),
  );
  const lastSignIn = new Map(signIns.map((s) => [s.userId, s.last]));
  const teamCount = (userId: string, intact: boolean) => teams.filter((t) => t.row.userId === userId && t.intact === intact).length;
  return accounts.map(({ row, intact }) => ({
    id: row.id,
    email: row.email,
    displayName: row.displayName,
    roles: held.filter((h) => h.row.userId === row.id && h.intact).map((h) => h.row.roleName),
    tamperedRoles: held.filter((h) => h.row.userId === row.id && !h.intact).map((h) => h.row.roleName),
    status: !intact ? 'tampered' : row.disabledAt ? 'disabled' : row.lockedUntil && row.lockedUntil > at ? 'locked' : 'active',
    disabledAt: row.disabledAt?.toISOString() ?? null,
    lastSignInAt: lastSignIn.get(row.id)?.toISOString() ?? null,
    careTeamAssignments: teamCount(row.id, true),
    tamperedAssignments: teamCount(row.id, false),
  }));
}
