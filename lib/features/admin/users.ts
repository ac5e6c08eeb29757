import 'server-only';
import { and, eq, inArray, isNull, ne } from 'drizzle-orm';
import { z } from 'zod';
import type { Tx } from '@/db/client';
import { roles, userRoles, users } from '@/db/schema';
import { canAdminister, grantsPermissions } from '@/lib/domain/access/admin-rules';
import { actsOnOwnChain, holdsAuditPowers, isPrivileged } from '@/lib/domain/access/two-person';
import { adminPermission, type AdminPermission } from '@/lib/domain/access/permission-names';
import type { PermissionSet } from '@/lib/domain/access/permissions';
import type { Viewer } from '@/lib/domain/access/viewer';
import { auditActions } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { hashPassword, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '@/lib/features/credentials/passwords';
import { revokeUserSessions } from '@/lib/features/credentials/sessions';
import { normaliseEmail } from '@/lib/features/credentials/users';
import { heldRoleNames, insertRoleRows, intactRow, macColumns, unsetUserMacFields, updateWithMac, withMac } from '@/lib/platform/integrity';
import { operation, stepUpMessages } from '@/lib/pipeline/operation';
import { adminMessages, adminOnly, adminPassword, adminStepUp, serialisedAdminChange } from '@/lib/features/admin/messages';
import { chainOf } from '@/lib/features/admin/chain';
import { fileRequest, filedMessage, requestMessages } from '@/lib/features/admin/requests';

/** Why an account was disabled: a fixed list, so no free text (and no PHI) reaches the record. */
export const disableReasons = {
  left_organisation: 'Left the organisation',
  leave_of_absence: 'Leave of absence',
  security_concern: 'Security concern',
  other: 'Other',
} as const;

const uuid = z.string().uuid('That account no longer exists. Reload the page.');

const newPassword = z
  .string()
  .min(PASSWORD_MIN_LENGTH, `Use at least ${PASSWORD_MIN_LENGTH} characters.`)
  .max(PASSWORD_MAX_LENGTH, `Use at most ${PASSWORD_MAX_LENGTH} characters.`);

const roleList = z.preprocess(
  (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]),
  z.array(z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'Choose roles from the list.')).max(20),
);

const createUserSchema = z
  .object({
    email: z.string().trim().toLowerCase().max(254, 'Use at most 254 characters.').pipe(z.email('Enter a valid email address.')),
    displayName: z.string().trim().min(1, 'Enter the person’s name as colleagues know it.').max(100, 'Use at most 100 characters.'),
    password: newPassword,
    passwordConfirm: z.string(),
    roles: roleList,
    adminPassword,
  })
  .refine((v) => v.password === v.passwordConfirm, { path: ['passwordConfirm'], message: 'The two passwords do not match.' });

const setRolesSchema = z.object({ userId: uuid, roles: roleList, adminPassword });
const setDisabledSchema = z.object({
  userId: uuid,
  disabled: z.preprocess((v) => v === true || v === 'true', z.boolean()),
  reason: z.enum(Object.keys(disableReasons) as [keyof typeof disableReasons]).optional(),
  adminPassword,
});
const resetPasswordSchema = z
  .object({ userId: uuid, password: newPassword, passwordConfirm: z.string(), adminPassword })
  .refine((v) => v.password === v.passwordConfirm, { path: ['passwordConfirm'], message: 'The two passwords do not match.' });

/**
 * What every change to an account shares: its admin permission (refusals recorded as denied),
 * the admin's own password where the change grants power, one change at a time across all
 * admins, and the admin re-read under that lock.
 */
const accountChange = (name: AdminPermission) =>
  ({
    resourceType: 'user',
    ...adminOnly(name),
    stepUp: adminStepUp,
    ...serialisedAdminChange,
  }) as const;

/** The account a request names, for refusal entries. */
const userIdOf = (raw: unknown) => (raw as { userId?: unknown } | null)?.userId;

const invalid = (fieldErrors: Record<string, string>) => fail('invalid', adminMessages.invalid, fieldErrors);
const selfChange = () => fail('self_change', adminMessages.self_change);
const notFound = () => fail('not_found', adminMessages.not_found);
const reauthRequired = () => fail('reauth_required', stepUpMessages.reauth_required);

/**
 * Creates an account with an argon2id password. An account with any role is a grant under the
 * two-person rule (lib/domain/access/two-person.ts): it is filed as a request, with the password
 * only as its hash, and the account exists once a second administrator approves.
 */
export const createUser = operation({
  ...accountChange(adminPermission.createUsers),
  name: 'admin.user.create',
  action: auditActions.user.create,
  input: createUserSchema,
  auditedFailures: ['reauth_required'],
  run: async (ctx): Promise<Result<{ id: string | null; requestId: string | null }, 'invalid' | 'duplicate' | 'reauth_required'>> => {
    const { tx, viewer, input, recentlyReauthenticated, at, audit } = ctx;
    const { email, displayName, password, roles: wanted } = input;
    const granted = await knownRoles(tx, wanted);
    if (!granted) return invalid({ roles: 'Choose roles from the list.' });
    if (granted.some((r) => grantsPermissions(r.permissions)) && !recentlyReauthenticated) return reauthRequired();
    if (await emailTaken(tx, email)) return fail('duplicate', 'An account with this email already exists.', { email: 'An account with this email already exists.' });
    const passwordHash = await hashPassword(password);
    if (granted.length) {
      const roleNames = granted.map((r) => r.name).sort();
      const { requestId } = await fileRequest(ctx, {
        kind: 'create_account',
        change: { email: normaliseEmail(email), displayName, roles: roleNames },
        passwordHash,
        privileged: granted.some((r) => isPrivileged(r.permissions)),
      });
      return ok({ id: null, requestId }, filedMessage('admin'));
    }
    const id = await insertAccount(tx, { email, displayName, passwordHash, roles: [] }, viewer.userId, at);
    await audit({ resourceId: id, details: { after: { email: normaliseEmail(email), displayName, roles: [], disabled: false } } });
    return ok({ id, requestId: null }, `Created ${normaliseEmail(email)}.`);
  },
});

async function emailTaken(tx: Tx, email: string): Promise<boolean> {
  const [taken] = await tx.select({ id: users.id }).from(users).where(eq(users.email, normaliseEmail(email))).limit(1);
  return Boolean(taken);
}

/** The account row and its roles, as made by `by` (the requester, for an approved request). */
async function insertAccount(tx: Tx, account: { email: string; displayName: string; passwordHash: string; roles: string[] }, by: string, at: Date): Promise<string> {
  const id = crypto.randomUUID();
  await tx.insert(users).values(
    withMac('users', {
      ...unsetUserMacFields,
      id,
      email: normaliseEmail(account.email),
      displayName: account.displayName,
      passwordHash: account.passwordHash,
      passwordChangedAt: at,
      createdBy: by,
      createdAt: at,
    }),
  );
  await insertRoleRows(tx, account.roles.map((roleName) => ({ userId: id, roleName, grantedBy: by, grantedAt: at })));
  return id;
}

/** An approved account request: made now, unless the email was taken meanwhile or a role is gone. */
export async function applyCreateAccount(tx: Tx, change: { email: string; displayName: string; roles: string[] }, passwordHash: string, by: string, at: Date): Promise<string | null> {
  if ((await emailTaken(tx, change.email)) || !(await knownRoles(tx, change.roles))) return null;
  return insertAccount(tx, { ...change, passwordHash }, by, at);
}

/**
 * Sets a user's roles to exactly `roles`. Never one's own (rule 1), nor an account in one's own
 * chain (two-person rule 4). Adding any role, or taking away a role with privacy-officer powers,
 * is filed for a second administrator (with a fresh password, rule 3); other removals apply now.
 */
export const setUserRoles = operation({
  ...accountChange(adminPermission.assignRoles),
  name: 'admin.user.set-roles',
  action: auditActions.user.roles,
  target: userIdOf,
  input: setRolesSchema,
  auditedFailures: ['self_change', 'own_chain', 'reauth_required'],
  run: async (ctx): Promise<Result<{ roles: string[]; requestId: string | null }, 'invalid' | 'not_found' | 'self_change' | 'own_chain' | 'reauth_required'>> => {
    const { tx, viewer, input, recentlyReauthenticated, at, audit, unchanged } = ctx;
    const { userId } = input;
    if (userId === viewer.userId) return selfChange();
    const user = await userRow(tx, userId);
    if (!user) return notFound();
    const next = await knownRoles(tx, input.roles);
    if (!next) return invalid({ roles: 'Choose roles from the list.' });
    const current = (await knownRoles(tx, await heldRoleNames(tx, userId)))!;
    const currentNames = new Set(current.map((r) => r.name));
    const nextNames = new Set(next.map((r) => r.name));
    const added = next.filter((r) => !currentNames.has(r.name));
    const removed = current.filter((r) => !nextNames.has(r.name));
    const before = [...currentNames].sort();
    if (added.length === 0 && removed.length === 0) {
      unchanged();
      return ok({ roles: before, requestId: null }, 'No change: the roles were already as chosen.');
    }
    const after = [...nextNames].sort();
    if (added.length || removed.some((r) => holdsAuditPowers(r.permissions))) {
      if (added.length && actsOnOwnChain(await chainOf(tx, viewer.userId), userId)) return fail('own_chain', requestMessages.own_chain);
      if (!recentlyReauthenticated) return reauthRequired();
      const { requestId } = await fileRequest(ctx, {
        kind: added.length ? 'grant_roles' : 'remove_roles',
        targetUserId: userId,
        change: { roles: after, before },
        privileged: added.some((r) => isPrivileged(r.permissions)),
      });
      return ok({ roles: before, requestId }, filedMessage('admin'));
    }
    // Rule 4 holds here by construction: the actor can assign roles and is not the target, so
    // another enabled administrator always remains.
    await applyRoles(tx, userId, before, after, viewer.userId, at);
    await audit({ resourceId: userId, details: { before: { roles: before }, after: { roles: after } } });
    return ok({ roles: after, requestId: null }, `Roles of ${user.email} updated.`);
  },
});

/**
 * Sets the roles from `before` to `after`, granted by `by`. False, and nothing changed, when the
 * account's roles are no longer `before` (an approved request made against roles since changed).
 */
export async function applyRoles(tx: Tx, userId: string, before: string[], after: string[], by: string, at: Date): Promise<boolean> {
  const held = (await heldRoleNames(tx, userId)).sort();
  if (held.join() !== [...before].sort().join() || !(await knownRoles(tx, after))) return false;
  const removed = held.filter((name) => !after.includes(name));
  const added = after.filter((name) => !held.includes(name));
  if (removed.length) await tx.delete(userRoles).where(and(eq(userRoles.userId, userId), inArray(userRoles.roleName, removed)));
  await insertRoleRows(tx, added.map((roleName) => ({ userId, roleName, grantedBy: by, grantedAt: at })));
  return true;
}

/**
 * Disables (ending every open session at once) or re-enables an account. Re-enabling restores
 * whatever the roles grant, so it needs a fresh password like any other grant.
 */
export const setUserDisabled = operation({
  ...accountChange(adminPermission.disableUsers),
  name: 'admin.user.set-disabled',
  action: (raw) => {
    const disabling = (raw as { disabled?: unknown } | null)?.disabled;
    return disabling === true || disabling === 'true' ? auditActions.user.disable : auditActions.user.enable;
  },
  target: userIdOf,
  input: setDisabledSchema,
  auditedFailures: ['self_change', 'reauth_required', 'last_admin'],
  run: async (ctx): Promise<Result<{ sessionsRevoked: number; requestId: string | null }, 'invalid' | 'not_found' | 'self_change' | 'reauth_required' | 'last_admin'>> => {
    const { tx, viewer, input, recentlyReauthenticated, at, audit, unchanged } = ctx;
    const { userId, disabled, reason } = input;
    if (userId === viewer.userId) return selfChange();
    const user = await userRow(tx, userId);
    if (!user) return notFound();
    if (Boolean(user.disabledAt) === disabled) {
      unchanged();
      return ok({ sessionsRevoked: 0, requestId: null }, disabled ? 'The account was already disabled.' : 'The account was already active.');
    }
    if (disabled) {
      if (!reason) return invalid({ reason: 'Choose why the account is being disabled.' });
      const held = (await knownRoles(tx, await heldRoleNames(tx, userId)))!;
      if (administers(held) && (await enabledAdministrators(tx, { except: userId })) === 0) return fail('last_admin', adminMessages.last_admin);
      // Disabling a privacy officer takes away the watch on everyone else: a second person decides.
      if (held.some((r) => holdsAuditPowers(r.permissions))) {
        if (!recentlyReauthenticated) return reauthRequired();
        const { requestId } = await fileRequest(ctx, { kind: 'disable_account', targetUserId: userId, change: { reason } });
        return ok({ sessionsRevoked: 0, requestId }, filedMessage('admin'));
      }
      const sessionsRevoked = await applyDisable(tx, userId, reason, viewer, at);
      await audit({ resourceId: userId, details: { before: { disabled: false }, after: { disabled: true, reason }, sessionsRevoked } });
      return ok({ sessionsRevoked, requestId: null }, `Disabled ${user.email}. ${sessionsRevoked} open session${sessionsRevoked === 1 ? '' : 's'} ended.`);
    }
    if (!recentlyReauthenticated) return reauthRequired();
    await updateWithMac(tx, 'users', eq(users.id, userId), { disabledAt: null, disabledReason: null });
    await audit({ resourceId: userId, details: { before: { disabled: true, reason: user.disabledReason }, after: { disabled: false } } });
    return ok({ sessionsRevoked: 0, requestId: null }, `Enabled ${user.email}.`);
  },
});

/** Disables an account now and ends its sessions (and their grants), as done by `by`; how many sessions ended. */
export async function applyDisable(tx: Tx, userId: string, reason: string, by: Viewer, at: Date): Promise<number> {
  await updateWithMac(tx, 'users', eq(users.id, userId), { disabledAt: at, disabledReason: reason });
  return revokeUserSessions(tx, userId, 'user_disabled', at, { by });
}

/**
 * Sets a new password for someone who lost theirs. It hands the admin that account, so it is
 * filed for a second administrator (with a fresh password of the admin's own, rule 3), holding
 * the new password only as its hash; never for one's own account or one in one's own chain.
 */
export const resetUserPassword = operation({
  ...accountChange(adminPermission.resetPasswords),
  name: 'admin.user.reset-password',
  action: auditActions.user.resetPassword,
  target: userIdOf,
  input: resetPasswordSchema,
  auditedFailures: ['self_change', 'own_chain', 'reauth_required'],
  run: async (ctx): Promise<Result<{ requestId: string }, 'not_found' | 'self_change' | 'own_chain' | 'reauth_required'>> => {
    const { tx, viewer, input, recentlyReauthenticated } = ctx;
    const { userId, password } = input;
    if (userId === viewer.userId) return selfChange();
    const user = await userRow(tx, userId);
    if (!user) return notFound();
    if (actsOnOwnChain(await chainOf(tx, viewer.userId), userId)) return fail('own_chain', requestMessages.own_chain);
    if (!recentlyReauthenticated) return reauthRequired();
    const { requestId } = await fileRequest(ctx, { kind: 'reset_password', targetUserId: userId, change: {}, passwordHash: await hashPassword(password) });
    return ok({ requestId }, filedMessage('admin'));
  },
});

/** An approved reset: the new password (hashed when it was asked for), the lockout cleared, every session ended. */
export async function applyPasswordReset(tx: Tx, userId: string, passwordHash: string, at: Date): Promise<number> {
  await updateWithMac(tx, 'users', eq(users.id, userId), { passwordHash, passwordChangedAt: at, failedLogins: 0, lockedUntil: null });
  return revokeUserSessions(tx, userId, 'password_reset', at);
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
  const holders = await tx
    .select({ user: macColumns.users, role: macColumns.user_roles })
    .from(userRoles)
    .innerJoin(users, eq(users.id, userRoles.userId))
    .where(and(inArray(userRoles.roleName, adminRoles), isNull(users.disabledAt), options.except ? ne(users.id, options.except) : undefined));
  // A forged role row, or an account re-enabled by SQL, is no administrator to fall back on.
  const counted = new Set<string>();
  for (const { user, role } of holders) if ((await intactRow(tx, 'users', user)) && (await intactRow(tx, 'user_roles', role))) counted.add(user.id);
  return counted.size;
}
