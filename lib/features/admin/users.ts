import 'server-only';
import { and, asc, count, eq, gt, inArray, isNull, max, ne, or } from 'drizzle-orm';
import { z } from 'zod';
import { getDb, type Queryable, type Tx } from '@/db/client';
import { careTeam, roles, sessions, userRoles, users } from '@/db/schema';
import { adminPermission, canAdminister, grantsPermissions } from '@/lib/domain/access/admin-rules';
import type { PermissionSet } from '@/lib/domain/access/permissions';
import type { Viewer } from '@/lib/domain/access/viewer';
import { hashPassword, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '@/lib/features/credentials/passwords';
import { revokeUserSessions } from '@/lib/features/credentials/sessions';
import { normaliseEmail } from '@/lib/features/credentials/users';
import { now as clockNow } from '@/lib/platform/clock';
import { adminChange, mayRead } from '@/lib/features/admin/change';
import { done, fieldErrorsOf, invalidInput, refuse, type AdminResult } from '@/lib/features/admin/result';

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

/** Why an account was disabled: a fixed list, so no free text (and no PHI) reaches the record. */
export const disableReasons = {
  left_organisation: 'Left the organisation',
  leave_of_absence: 'Leave of absence',
  security_concern: 'Security concern',
  other: 'Other',
} as const;

const uuid = z.string().uuid('That account no longer exists. Reload the page.');
const adminPassword = z.string().max(1024).optional();

const newPassword = z
  .string()
  .min(PASSWORD_MIN_LENGTH, `Use at least ${PASSWORD_MIN_LENGTH} characters.`)
  .max(PASSWORD_MAX_LENGTH, `Use at most ${PASSWORD_MAX_LENGTH} characters.`);

const roleList = z.preprocess(
  (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]),
  z.array(z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'Choose roles from the list.')).max(20),
);

export const createUserSchema = z
  .object({
    email: z.string().trim().toLowerCase().max(254, 'Use at most 254 characters.').pipe(z.email('Enter a valid email address.')),
    displayName: z.string().trim().min(1, 'Enter the person’s name as colleagues know it.').max(100, 'Use at most 100 characters.'),
    password: newPassword,
    passwordConfirm: z.string(),
    roles: roleList,
    adminPassword,
  })
  .refine((v) => v.password === v.passwordConfirm, { path: ['passwordConfirm'], message: 'The two passwords do not match.' });

export const setRolesSchema = z.object({ userId: uuid, roles: roleList, adminPassword });
export const setDisabledSchema = z.object({
  userId: uuid,
  disabled: z.preprocess((v) => v === true || v === 'true', z.boolean()),
  reason: z.enum(Object.keys(disableReasons) as [keyof typeof disableReasons]).optional(),
  adminPassword,
});
export const resetPasswordSchema = z
  .object({ userId: uuid, password: newPassword, passwordConfirm: z.string(), adminPassword })
  .refine((v) => v.password === v.passwordConfirm, { path: ['passwordConfirm'], message: 'The two passwords do not match.' });

const passwordOf = (input: unknown) => adminPassword.catch(undefined).parse((input as { adminPassword?: unknown } | null)?.adminPassword);

// ------------------------------------------------------------------------------------ reading

export async function listUsers(viewer: Viewer): Promise<AdminResult<UserSummary[]>> {
  if (!(await mayRead(viewer, adminPermission.readUsers, 'user'))) return refuse('denied');
  const db = await getDb();
  const rows = await db.select().from(users).orderBy(asc(users.email));
  return done(await summarise(db, rows), '');
}

export async function getUser(viewer: Viewer, userId: string): Promise<AdminResult<UserDetail>> {
  if (!(await mayRead(viewer, adminPermission.readUsers, 'user'))) return refuse('denied');
  if (!uuid.safeParse(userId).success) return refuse('not_found');
  const db = await getDb();
  const [row] = await db.select().from(users).where(eq(users.id, userId)).limit(1);
  if (!row) return refuse('not_found');
  const [summary] = await summarise(db, [row]);
  return done(
    {
      ...summary!,
      disabledReason: row.disabledReason,
      createdAt: row.createdAt.toISOString(),
      mfaEnrolled: Boolean(row.totpEnabledAt),
    },
    '',
  );
}

/** Roles, last sign-in and active care-team count for each user, in three grouped queries. */
async function summarise(db: Queryable, rows: Array<typeof users.$inferSelect>): Promise<UserSummary[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const at = clockNow();
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

// ------------------------------------------------------------------------------------ changes

/** Creates an account with an argon2id password and, optionally, roles (a grant: rule 3). */
export async function createUser(viewer: Viewer, input: unknown): Promise<AdminResult<{ id: string }>> {
  return adminChange(viewer, { permission: adminPermission.createUsers, action: 'user.create', resourceType: 'user', password: passwordOf(input) }, async (ctx) => {
    const parsed = createUserSchema.safeParse(input);
    if (!parsed.success) return invalidInput(fieldErrorsOf(parsed.error));
    const { email, displayName, password, roles: wanted } = parsed.data;
    const granted = await knownRoles(ctx.tx, wanted);
    if (!granted) return invalidInput({ roles: 'Choose roles from the list.' });
    if (granted.some((r) => grantsPermissions(r.permissions)) && !ctx.recentlyReauthenticated) return refuse('reauth_required');
    const [taken] = await ctx.tx.select({ id: users.id }).from(users).where(eq(users.email, normaliseEmail(email))).limit(1);
    if (taken) return { ok: false, error: 'duplicate', message: 'An account with this email already exists.', fieldErrors: { email: 'An account with this email already exists.' } };
    const id = crypto.randomUUID();
    const at = clockNow();
    await ctx.tx.insert(users).values({
      id,
      email: normaliseEmail(email),
      displayName,
      passwordHash: await hashPassword(password),
      passwordChangedAt: at,
      createdBy: viewer.userId,
      createdAt: at,
    });
    if (granted.length) await ctx.tx.insert(userRoles).values(granted.map((r) => ({ userId: id, roleName: r.name, grantedBy: viewer.userId, grantedAt: at })));
    await ctx.audit({ resourceId: id, details: { after: { email: normaliseEmail(email), displayName, roles: granted.map((r) => r.name).sort(), disabled: false } } });
    return done({ id }, `Created ${normaliseEmail(email)}.`);
  });
}

/** Sets a user's roles to exactly `roles`. Never one's own (rule 1); granting needs a fresh password (rule 3). */
export async function setUserRoles(viewer: Viewer, input: unknown): Promise<AdminResult<{ roles: string[] }>> {
  const target = (input as { userId?: unknown } | null)?.userId;
  return adminChange(viewer, { permission: adminPermission.assignRoles, action: 'user.roles', resourceType: 'user', target, password: passwordOf(input) }, async (ctx) => {
    const parsed = setRolesSchema.safeParse(input);
    if (!parsed.success) return invalidInput(fieldErrorsOf(parsed.error));
    const { userId } = parsed.data;
    if (userId === viewer.userId) return refuse('self_change');
    const user = await userRow(ctx.tx, userId);
    if (!user) return refuse('not_found');
    const next = await knownRoles(ctx.tx, parsed.data.roles);
    if (!next) return invalidInput({ roles: 'Choose roles from the list.' });
    const current = await knownRoles(ctx.tx, await heldRoleNames(ctx.tx, userId));
    const currentNames = new Set(current!.map((r) => r.name));
    const nextNames = new Set(next.map((r) => r.name));
    const added = next.filter((r) => !currentNames.has(r.name));
    const removed = [...currentNames].filter((name) => !nextNames.has(name));
    if (added.length === 0 && removed.length === 0) return done({ roles: [...currentNames].sort() }, 'No change: the roles were already as chosen.');
    if (added.some((r) => grantsPermissions(r.permissions)) && !ctx.recentlyReauthenticated) return refuse('reauth_required');
    // Rule 4 holds here by construction: the actor can assign roles and is not the target, so
    // another enabled administrator always remains.

    if (removed.length) await ctx.tx.delete(userRoles).where(and(eq(userRoles.userId, userId), inArray(userRoles.roleName, removed)));
    if (added.length) await ctx.tx.insert(userRoles).values(added.map((r) => ({ userId, roleName: r.name, grantedBy: viewer.userId, grantedAt: clockNow() })));
    const after = [...nextNames].sort();
    await ctx.audit({ resourceId: userId, details: { before: { roles: [...currentNames].sort() }, after: { roles: after } } });
    return done({ roles: after }, `Roles of ${user.email} updated.`);
  });
}

/**
 * Disables (ending every open session at once) or re-enables an account. Re-enabling restores
 * whatever the roles grant, so it needs a fresh password like any other grant.
 */
export async function setUserDisabled(viewer: Viewer, input: unknown): Promise<AdminResult<{ sessionsRevoked: number }>> {
  const target = (input as { userId?: unknown } | null)?.userId;
  const disabling = (input as { disabled?: unknown } | null)?.disabled;
  return adminChange(
    viewer,
    { permission: adminPermission.disableUsers, action: disabling === true || disabling === 'true' ? 'user.disable' : 'user.enable', resourceType: 'user', target, password: passwordOf(input) },
    async (ctx) => {
      const parsed = setDisabledSchema.safeParse(input);
      if (!parsed.success) return invalidInput(fieldErrorsOf(parsed.error));
      const { userId, disabled, reason } = parsed.data;
      if (userId === viewer.userId) return refuse('self_change');
      const user = await userRow(ctx.tx, userId);
      if (!user) return refuse('not_found');
      if (Boolean(user.disabledAt) === disabled) return done({ sessionsRevoked: 0 }, disabled ? 'The account was already disabled.' : 'The account was already active.');
      const at = clockNow();
      if (disabled) {
        if (!reason) return invalidInput({ reason: 'Choose why the account is being disabled.' });
        const held = await knownRoles(ctx.tx, await heldRoleNames(ctx.tx, userId));
        if (administers(held!) && (await enabledAdministrators(ctx.tx, { except: userId })) === 0) return refuse('last_admin');
        await ctx.tx.update(users).set({ disabledAt: at, disabledReason: reason }).where(eq(users.id, userId));
        const sessionsRevoked = await revokeUserSessions(ctx.tx, userId, 'user_disabled', at);
        await ctx.audit({ resourceId: userId, details: { before: { disabled: false }, after: { disabled: true, reason }, sessionsRevoked } });
        return done({ sessionsRevoked }, `Disabled ${user.email}. ${sessionsRevoked} open session${sessionsRevoked === 1 ? '' : 's'} ended.`);
      }
      if (!ctx.recentlyReauthenticated) return refuse('reauth_required');
      await ctx.tx.update(users).set({ disabledAt: null, disabledReason: null }).where(eq(users.id, userId));
      await ctx.audit({ resourceId: userId, details: { before: { disabled: true, reason: user.disabledReason }, after: { disabled: false } } });
      return done({ sessionsRevoked: 0 }, `Enabled ${user.email}.`);
    },
  );
}

/**
 * Sets a new password for someone who lost theirs. It hands the admin that account, so it
 * needs a fresh password of the admin's own (rule 3); the user's open sessions end.
 */
export async function resetUserPassword(viewer: Viewer, input: unknown): Promise<AdminResult<{ sessionsRevoked: number }>> {
  const target = (input as { userId?: unknown } | null)?.userId;
  return adminChange(viewer, { permission: adminPermission.resetPasswords, action: 'user.reset_password', resourceType: 'user', target, password: passwordOf(input) }, async (ctx) => {
    const parsed = resetPasswordSchema.safeParse(input);
    if (!parsed.success) return invalidInput(fieldErrorsOf(parsed.error));
    const { userId, password } = parsed.data;
    if (userId === viewer.userId) return refuse('self_change');
    const user = await userRow(ctx.tx, userId);
    if (!user) return refuse('not_found');
    if (!ctx.recentlyReauthenticated) return refuse('reauth_required');
    const at = clockNow();
    await ctx.tx
      .update(users)
      .set({ passwordHash: await hashPassword(password), passwordChangedAt: at, failedLogins: 0, lockedUntil: null })
      .where(eq(users.id, userId));
    const sessionsRevoked = await revokeUserSessions(ctx.tx, userId, 'password_reset', at);
    await ctx.audit({ resourceId: userId, details: { passwordReset: true, sessionsRevoked } });
    return done({ sessionsRevoked }, `New password set for ${user.email}. Their open sessions ended.`);
  });
}

// ------------------------------------------------------------------------------------ helpers

interface RoleRow {
  name: string;
  permissions: PermissionSet;
}

async function userRow(tx: Tx, userId: string) {
  const [row] = await tx.select().from(users).where(eq(users.id, userId)).limit(1);
  return row;
}

async function heldRoleNames(tx: Tx, userId: string): Promise<string[]> {
  return (await tx.select({ name: userRoles.roleName }).from(userRoles).where(eq(userRoles.userId, userId))).map((r) => r.name);
}

/** The named roles, or undefined when any name is not a role (a tampered form). */
export async function knownRoles(tx: Tx, names: string[]): Promise<RoleRow[] | undefined> {
  const unique = [...new Set(names)];
  if (unique.length === 0) return [];
  const rows = await tx.select({ name: roles.name, permissions: roles.permissions }).from(roles).where(inArray(roles.name, unique));
  return rows.length === unique.length ? rows : undefined;
}

const administers = (held: RoleRow[]) => held.some((r) => canAdminister(r.permissions));

/**
 * Enabled users able to assign roles (rule 4), optionally leaving one out and optionally as if
 * one role's permissions were already edited.
 */
export async function enabledAdministrators(tx: Tx, options: { except?: string; roleEdit?: RoleRow } = {}): Promise<number> {
  const all = await tx.select({ name: roles.name, permissions: roles.permissions }).from(roles);
  const adminRoles = all
    .map((r) => (options.roleEdit && r.name === options.roleEdit.name ? options.roleEdit : r))
    .filter((r) => canAdminister(r.permissions))
    .map((r) => r.name);
  if (adminRoles.length === 0) return 0;
  const [row] = await tx
    .select({ n: count(users.id) })
    .from(users)
    .where(
      and(
        isNull(users.disabledAt),
        options.except ? ne(users.id, options.except) : undefined,
        inArray(users.id, tx.select({ id: userRoles.userId }).from(userRoles).where(inArray(userRoles.roleName, adminRoles))),
      ),
    );
  return Number(row?.n ?? 0);
}
