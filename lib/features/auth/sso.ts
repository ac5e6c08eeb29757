import 'server-only';
import { randomBytes, randomUUID } from 'node:crypto';
import { and, eq, inArray, isNull } from 'drizzle-orm';
import { getDb, type Tx } from '@/db/client';
import { ssoRoleMappings, userRoles, users } from '@/db/schema';
import { auditActions } from '@/lib/domain/audit/actions';
import { rolesForGroups } from '@/lib/domain/sso/claims';
import { recordAudit, type AuditActor } from '@/lib/platform/audit';
import { now as clockNow } from '@/lib/platform/clock';
import { env } from '@/lib/platform/env';
import { heldRoleNames, insertRoleRows, intactRow, unsetUserMacFields, updateWithMac, withMac } from '@/lib/platform/integrity';
import { verifySecondFactor } from '@/lib/features/credentials/mfa';
import { hashPassword } from '@/lib/features/credentials/passwords';
import { createSession, isSessionId, revokeSession } from '@/lib/features/credentials/sessions';
import { normaliseEmail } from '@/lib/features/credentials/users';

/** A person as the identity provider vouched for them, read from an ID token Auth.js verified. */
export interface SsoIdentity {
  issuer: string;
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  groups: string[];
  /** The IdP asserted a multi-factor sign-in (lib/domain/sso/claims.ts). */
  mfa: boolean;
}

export type SsoRefusal = 'no_account' | 'identity_mismatch' | 'disabled' | 'unmapped' | 'code_invalid';

export type SsoResult =
  | { ok: true; userId: string; sessionId: string }
  /** The IdP did not assert MFA and the account has an authenticator: its code comes next. */
  | { ok: false; reason: 'code_required'; userId: string }
  | { ok: false; reason: SsoRefusal };

/** What the sign-in page says for each refusal: plain, and the same whoever asks. */
export const SSO_MESSAGES: Record<SsoRefusal | 'code_required' | 'failed' | 'expired', string> = {
  no_account: 'Your hospital account is not set up for Vigil yet. Ask the service desk to give you access.',
  identity_mismatch: 'This Vigil account is linked to a different hospital account. Contact the service desk.',
  disabled: 'Your Vigil account is disabled. Contact the service desk if you need access.',
  unmapped: 'Your hospital account is in no group that has access to Vigil. Ask the service desk to give you access.',
  code_required: 'Enter the 6-digit code from your authenticator app, or a recovery code, to finish signing in.',
  code_invalid: 'That code did not work. Sign in with your hospital account again.',
  failed: 'Signing in with your hospital account did not work. Try again; if it keeps failing, contact the service desk.',
  expired: 'Signing in took too long. Start again.',
};

interface Client {
  ip: string | null;
  userAgent: string | null;
}

export interface SsoOptions {
  replacesSessionId?: string | null;
  at?: Date;
}

type UserRow = typeof users.$inferSelect;

/**
 * The SSO sign-in after the ID token checked out. The account is found by the IdP's issuer and
 * subject; an account not yet linked is found once by a verified email address an admin created
 * it with, and linked for good (an email can be reassigned at the IdP, a subject cannot).
 * Just-in-time creation only when VIGIL_OIDC_JIT is on. A disabled account, or one whose groups
 * map to no Vigil role, is refused and audited. The roles become exactly what the groups map to,
 * audited when they change. The session is the same row a password sign-in creates, so the idle
 * limit, lifetime, revocation, break-glass and monitoring apply unchanged.
 */
export async function signInWithSso(identity: SsoIdentity, client: Client, options: SsoOptions = {}): Promise<SsoResult> {
  const db = await getDb();
  const at = options.at ?? clockNow();
  return db.transaction(async (tx) => {
    const admitted = await admit(tx, identity, client, at);
    if (!admitted.ok) return admitted.refusal;
    const { user, roles, linked } = admitted;
    await syncRoles(tx, user, roles, identity, client, at);
    if (!identity.mfa && user.totpEnabledAt) return { ok: false, reason: 'code_required', userId: user.id } as const;
    return startSession(tx, user, identity, client, identity.mfa ? 'sso_mfa' : 'sso', options, linked, at);
  });
}

/**
 * The second step when the IdP did not assert MFA: the account's own code. The account is
 * checked again (it may have been disabled or unmapped in the minutes between).
 */
export async function finishSsoWithCode(identity: SsoIdentity, code: string, client: Client, options: SsoOptions = {}): Promise<SsoResult> {
  const db = await getDb();
  const at = options.at ?? clockNow();
  return db.transaction(async (tx) => {
    const admitted = await admit(tx, identity, client, at);
    if (!admitted.ok) return admitted.refusal;
    const { user } = admitted;
    const factor = await verifySecondFactor(tx, user, code, at);
    if (!factor.ok) {
      await recordAudit(tx, {
        actor: { userId: user.id, ...client },
        action: auditActions.auth.mfa,
        resourceType: 'session',
        outcome: 'denied',
        details: { method: 'sso', reason: factor.reason },
      });
      return { ok: false, reason: 'code_invalid' } as const;
    }
    return startSession(tx, user, identity, client, 'sso_totp', options, false, at);
  });
}

type Admitted = { ok: true; user: UserRow; roles: string[]; linked: boolean } | { ok: false; refusal: SsoResult };

/** The account, enabled, with at least one mapped role; otherwise the refusal, audited. */
async function admit(tx: Tx, identity: SsoIdentity, client: Client, at: Date): Promise<Admitted> {
  const found = await accountFor(tx, identity, at);
  if (!found.ok) return { ok: false, refusal: await refuse(tx, identity, client, found.reason, found.userId) };
  const { user } = found;
  if (user.disabledAt) return { ok: false, refusal: await refuse(tx, identity, client, 'disabled', user.id) };
  const roles = rolesForGroups(await tx.select().from(ssoRoleMappings), identity.groups);
  if (roles.length === 0) return { ok: false, refusal: await refuse(tx, identity, client, 'unmapped', user.id) };
  return { ok: true, user, roles, linked: found.linked };
}

type Found = { ok: true; user: UserRow; linked: boolean } | { ok: false; reason: 'no_account' | 'identity_mismatch'; userId?: string };

async function accountFor(tx: Tx, identity: SsoIdentity, at: Date): Promise<Found> {
  const [linked] = await tx
    .select()
    .from(users)
    .where(and(eq(users.oidcIssuer, identity.issuer), eq(users.oidcSubject, identity.subject)))
    .limit(1);
  // A linked row that fails its MAC (an identity written in from outside) links nobody.
  if (linked) return (await intactRow(tx, 'users', linked)) ? { ok: true, user: linked, linked: false } : { ok: false, reason: 'no_account', userId: linked.id };
  // Only an address the IdP says it verified can point at an account, once.
  if (!identity.email || !identity.emailVerified) return { ok: false, reason: 'no_account' };
  const email = normaliseEmail(identity.email);
  const [byEmail] = await tx.select().from(users).where(eq(users.email, email)).limit(1);
  if (byEmail) {
    if (byEmail.oidcSubject) return { ok: false, reason: 'identity_mismatch', userId: byEmail.id };
    if (!(await intactRow(tx, 'users', byEmail))) return { ok: false, reason: 'no_account', userId: byEmail.id };
    const [claimed] = await updateWithMac(tx, 'users', and(eq(users.id, byEmail.id), isNull(users.oidcSubject)), { oidcIssuer: identity.issuer, oidcSubject: identity.subject });
    return claimed ? { ok: true, user: claimed, linked: true } : { ok: false, reason: 'identity_mismatch', userId: byEmail.id };
  }
  if (!env().VIGIL_OIDC_JIT) return { ok: false, reason: 'no_account' };
  const created = await tx
    .insert(users)
    .values(
      withMac('users', {
        ...unsetUserMacFields,
        id: randomUUID(),
        email,
        displayName: identity.name?.trim().slice(0, 100) || email,
        // Nobody knows this password: the account signs in through the IdP until an admin sets one.
        passwordHash: await hashPassword(randomBytes(32).toString('base64url')),
        oidcIssuer: identity.issuer,
        oidcSubject: identity.subject,
        createdAt: at,
      }),
    )
    .returning()
    .then((rows) => rows[0]);
  return created ? { ok: true, user: created, linked: true } : { ok: false, reason: 'no_account' };
}

/** The IdP's groups decide an SSO account's roles: a group removed there is access removed here. */
async function syncRoles(tx: Tx, user: UserRow, roles: string[], identity: SsoIdentity, client: Client, at: Date): Promise<void> {
  // A role row forged in SQL is not held, so a group that grants the role writes it afresh; every row the groups no longer name goes.
  const held = await heldRoleNames(tx, user.id);
  const stored = (await tx.select({ name: userRoles.roleName }).from(userRoles).where(eq(userRoles.userId, user.id))).map((r) => r.name);
  await tx.update(users).set({ oidcGroups: identity.groups }).where(eq(users.id, user.id));
  const removed = stored.filter((r) => !roles.includes(r));
  const added = roles.filter((r) => !held.includes(r));
  if (removed.length === 0 && added.length === 0) return;
  if (removed.length) await tx.delete(userRoles).where(and(eq(userRoles.userId, user.id), inArray(userRoles.roleName, removed)));
  await insertRoleRows(tx, added.map((roleName) => ({ userId: user.id, roleName, grantedBy: null, grantedAt: at })));
  await recordAudit(tx, {
    actor: { userId: user.id, ...client },
    action: auditActions.user.roles,
    resourceType: 'user',
    resourceId: user.id,
    outcome: 'allowed',
    details: { via: 'identity_provider', before: { roles: held }, after: { roles } },
  });
}

async function startSession(
  tx: Tx,
  user: UserRow,
  identity: SsoIdentity,
  client: Client,
  method: 'sso' | 'sso_mfa' | 'sso_totp',
  options: SsoOptions,
  linked: boolean,
  at: Date,
): Promise<SsoResult> {
  const previous = options.replacesSessionId;
  const replaced = isSessionId(previous) ? await revokeSession(tx, previous, 'replaced_by_sign_in', at) : false;
  const session = await createSession(tx, user.id, client, at, method);
  await recordAudit(tx, {
    actor: { userId: user.id, ...client },
    action: auditActions.auth.login,
    resourceType: 'session',
    resourceId: session.id,
    outcome: 'allowed',
    details: { method, mfa: method !== 'sso', idp: new URL(identity.issuer).host, linkedNow: linked, replacedSession: replaced },
  });
  return { ok: true, userId: user.id, sessionId: session.id };
}

/** A refusal after the IdP vouched for the person: audited one by one, with the account when known. */
async function refuse(tx: Tx, identity: SsoIdentity, client: Client, reason: SsoRefusal, userId: string | null = null): Promise<SsoResult> {
  const actor: AuditActor = { userId, ...client };
  await recordAudit(tx, {
    actor,
    action: auditActions.auth.login,
    resourceType: 'session',
    outcome: 'denied',
    details: { method: 'sso', reason, idp: new URL(identity.issuer).host, groups: identity.groups.length },
  });
  return { ok: false, reason };
}
