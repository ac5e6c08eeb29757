import 'server-only';
import { and, asc, count, eq, gt, inArray, isNull, max, or } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable } from '@/db/client';
import { careTeam, sessions, userRoles, users } from '@/db/schema';
import { adminPermission } from '@/lib/domain/access/permission-names';
import { auditActions } from '@/lib/domain/audit/actions';
import { fail, ok } from '@/lib/domain/result';
import { operation } from '@/lib/pipeline/operation';
import { adminMessages, adminOnly } from '@/lib/features/admin/messages';

/** The user administration pages' view of accounts: no PHI, only who holds which access. */
export type UserStatus = 'active' | 'disabled' | 'locked';

export interface UserSummary {
  id: string;
  email: string;
  displayName: string;
  roles: string[];
  status: UserStatus;
  disabledAt: string | null;
  lastSignInAt: string | null;
  careTeamAssignments: number;
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
    const [summary] = await summarise(tx, [row], at);
    return ok<UserDetail>({
      ...summary!,
      disabledReason: row.disabledReason,
      createdAt: row.createdAt.toISOString(),
      mfaEnrolled: Boolean(row.totpEnabledAt),
    });
  },
});

/** Roles, last sign-in and active care-team count for each user, in three grouped queries. */
async function summarise(db: Queryable, rows: Array<typeof users.$inferSelect>, at: Date): Promise<UserSummary[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const held = await db.select().from(userRoles).where(inArray(userRoles.userId, ids)).orderBy(asc(userRoles.roleName));
  const signIns = await db
    .select({ userId: sessions.userId, last: max(sessions.createdAt) })
    .from(sessions)
    .where(inArray(sessions.userId, ids))
    .groupBy(sessions.userId);
  const teams = await db
    .select({ userId: careTeam.userId, n: count() })
    .from(careTeam)
    .where(and(inArray(careTeam.userId, ids), or(isNull(careTeam.untilAt), gt(careTeam.untilAt, at))))
    .groupBy(careTeam.userId);
  const lastSignIn = new Map(signIns.map((s) => [s.userId, s.last]));
  const teamCount = new Map(teams.map((t) => [t.userId, Number(t.n)]));
  return rows.map((row) => ({
    id: row.id,
    email: row.email,
    displayName: row.displayName,
    roles: held.filter((h) => h.userId === row.id).map((h) => h.roleName),
    status: row.disabledAt ? 'disabled' : row.lockedUntil && row.lockedUntil > at ? 'locked' : 'active',
    disabledAt: row.disabledAt?.toISOString() ?? null,
    lastSignInAt: lastSignIn.get(row.id)?.toISOString() ?? null,
    careTeamAssignments: teamCount.get(row.id) ?? 0,
  }));
}
