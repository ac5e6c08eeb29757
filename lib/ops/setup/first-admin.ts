import 'server-only';
import { randomBytes, randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '@/db/client';
import { roles, userRoles, users } from '@/db/schema';
import { defaultRoles, roleNames } from '@/lib/domain/access/roles';
import { auditActions } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { recordAudit } from '@/lib/platform/audit';
import { insertRoleRows, unsetUserMacFields, withMac } from '@/lib/platform/integrity';
import { locks } from '@/lib/pipeline/locks';
import { DEMO_ACCOUNT_DOMAIN } from '@/lib/platform/mode';
import { hashPassword } from '@/lib/features/credentials/passwords';
import { normaliseEmail } from '@/lib/features/credentials/users';

export const firstAdminInput = z.object({
  email: z
    .email({ error: 'Give the administrator’s work e-mail address with --email.' })
    .refine((email) => !normaliseEmail(email).endsWith(`@${DEMO_ACCOUNT_DOMAIN}`), {
      error: `Addresses at ${DEMO_ACCOUNT_DOMAIN} belong to the demo and are refused in production.`,
    }),
  displayName: z.string().trim().min(1, { error: 'Give the administrator’s name with --name.' }).max(200),
});

export type FirstAdminRefusal = 'invalid' | 'admin_exists';

/**
 * `npm run setup`: the built-in roles, then exactly one administrator with a one-time password
 * that is returned once (the caller prints it and nothing stores it in the clear). Refused when
 * any account already holds the admin role, so running it twice cannot make a second way in.
 * The password counts as never chosen (no password_changed_at), which production mode turns
 * into a forced change at first sign-in; the admin role's permissions force MFA enrolment too
 * (lib/features/credentials/config.ts).
 */
export async function createFirstAdministrator(
  db: Db,
  raw: unknown,
  at = new Date(),
): Promise<Result<{ id: string; email: string; oneTimePassword: string }, FirstAdminRefusal>> {
  const parsed = firstAdminInput.safeParse(raw);
  if (!parsed.success) return fail('invalid', parsed.error.issues[0]?.message ?? 'The input is not valid.');
  const email = normaliseEmail(parsed.data.email);
  const oneTimePassword = randomBytes(18).toString('base64url');
  const passwordHash = await hashPassword(oneTimePassword);
  return db.transaction(async (tx) => {
    // The admin-change lock: a set-up and an admin's change cannot both find no administrator.
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${locks.adminChange})`);
    for (const name of roleNames) {
      const role = defaultRoles[name];
      await tx.insert(roles).values({ name, description: role.description, permissions: role.permissions, builtIn: true }).onConflictDoNothing();
    }
    const [admin] = await tx.select({ userId: userRoles.userId }).from(userRoles).where(eq(userRoles.roleName, 'admin')).limit(1);
    if (admin) return fail('admin_exists', 'An administrator already exists; further accounts are made by an administrator in the portal.');
    const [taken] = await tx.select({ id: users.id }).from(users).where(eq(users.email, email)).limit(1);
    if (taken) return fail('invalid', 'An account with this e-mail address already exists.');
    const id = randomUUID();
    await tx.insert(users).values(withMac('users', { ...unsetUserMacFields, id, email, displayName: parsed.data.displayName, passwordHash, createdAt: at }));
    await insertRoleRows(tx, [{ userId: id, roleName: 'admin', grantedAt: at }]);
    await recordAudit(tx, {
      actor: { userId: null, ip: null, userAgent: 'npm run setup' },
      action: auditActions.user.firstAdmin,
      resourceType: 'user',
      resourceId: id,
      outcome: 'allowed',
      details: { roles: ['admin'] },
    });
    return ok({ id, email, oneTimePassword });
  });
}
