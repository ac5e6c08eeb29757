import 'server-only';
import { desc, eq, inArray } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable, Tx } from '@/db/client';
import { adminRequests, roles, settings, userRoles, users } from '@/db/schema';
import { adminPermission, auditPermission, type CategorisedPermission } from '@/lib/domain/access/permission-names';
import { hasPermission, type PermissionSet } from '@/lib/domain/access/permissions';
import { approvalRefusal, isPrivileged, requestChange, statusAt, type RequestKind, type RequestStatus } from '@/lib/domain/access/two-person';
import type { Viewer } from '@/lib/domain/access/viewer';
import { auditActions } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { actorNow } from '@/lib/pipeline/actor';
import { locks } from '@/lib/pipeline/locks';
import { operation, stepUpMessages, type AuditFacts } from '@/lib/pipeline/operation';
import { forgetMonitorConfig, MONITOR_SETTING, saveMonitorConfig } from '@/lib/features/monitor/config';
import { notifyPrivacyOfficers, kickAlertDelivery } from '@/lib/features/notify';
import { chainOf } from '@/lib/features/admin/chain';
import { adminStepUp } from '@/lib/features/admin/messages';
import { APPROVALS_PATH, requestMessages } from '@/lib/features/admin/requests';
import { applyRolePermissions } from '@/lib/features/admin/roles';
import { applyCreateAccount, applyDisable, applyPasswordReset, applyRoles, knownRoles } from '@/lib/features/admin/users';

/**
 * The second person of the two-person rule (lib/domain/access/two-person.ts): the list of
 * requests, and approving or refusing one. Deciding is an operation like any admin change —
 * serialised under the admin-change lock, the decider re-read under it, the decider's own
 * password typed now — and the chain rules are judged there, against the accounts as they stand.
 * An approval writes the change with its own audit action beside the approval's entry.
 */

/** What the second person must hold for each kind: the permission the change itself needs. */
const deciderPermission: Record<RequestKind, CategorisedPermission> = {
  grant_roles: { category: 'admin', name: adminPermission.assignRoles },
  remove_roles: { category: 'admin', name: adminPermission.assignRoles },
  create_account: { category: 'admin', name: adminPermission.createUsers },
  reset_password: { category: 'admin', name: adminPermission.resetPasswords },
  disable_account: { category: 'admin', name: adminPermission.disableUsers },
  edit_role: { category: 'admin', name: adminPermission.editRoles },
  monitor_settings: { category: 'audit', name: auditPermission.resolveIncidents },
};
const mayDecide = (permissions: PermissionSet, kind: RequestKind) => {
  const needed = deciderPermission[kind];
  return hasPermission(permissions, needed.category, needed.name);
};

const kindLabels: Record<RequestKind, string> = {
  grant_roles: 'Give roles',
  remove_roles: 'Take away privacy-officer roles',
  create_account: 'Create an account with roles',
  reset_password: 'Reset a password',
  disable_account: 'Disable a privacy officer',
  edit_role: 'Change a role’s permissions',
  monitor_settings: 'Change the access monitor’s thresholds',
};

export interface RequestView {
  id: string;
  kind: RequestKind;
  kindLabel: string;
  /** PHI-free: roles before and after, the account's email, the changed settings. */
  summary: string;
  requestedBy: { id: string; email: string };
  target: { id: string; email: string } | null;
  targetRole: string | null;
  requestedAt: string;
  expiresAt: string;
  status: RequestStatus;
  decidedBy: string | null;
  decidedAt: string | null;
  /** Why the viewer may not decide it (a plain sentence), or null when they may. */
  cannotDecide: string | null;
}

type RequestRow = typeof adminRequests.$inferSelect;

function summaryOf(row: RequestRow): string {
  const change = row.change as Record<string, unknown>;
  const list = (v: unknown) => (Array.isArray(v) && v.length ? v.join(', ') : 'none');
  switch (row.kind as RequestKind) {
    case 'grant_roles':
    case 'remove_roles':
      return `Roles ${list(change.before)} → ${list(change.roles)}`;
    case 'create_account':
      return `${String(change.email)} (${String(change.displayName)}) with ${list(change.roles)}`;
    case 'reset_password':
      return 'A new password chosen by the requester';
    case 'disable_account':
      return `Reason: ${String(change.reason)}`;
    case 'edit_role':
      return `Permissions of ${row.targetRole}: ${Object.entries((change.permissions ?? {}) as Record<string, string[]>).map(([c, p]) => `${c}: ${p.join(', ') || '—'}`).join('; ')}`;
    case 'monitor_settings':
      return `Changes ${list(change.changed)}`;
    default:
      return 'Unknown change';
  }
}

/** The beneficiary's chain: the target account's, or every holder's of the role an edit changes. */
async function targetChain(q: Queryable, row: RequestRow): Promise<Set<string> | null> {
  if (row.targetUserId) return chainOf(q, row.targetUserId);
  if (row.kind !== 'edit_role' || !row.targetRole) return null;
  const holders = await q.select({ userId: userRoles.userId }).from(userRoles).where(eq(userRoles.roleName, row.targetRole));
  const chain = new Set<string>();
  for (const { userId } of holders) for (const id of await chainOf(q, userId)) chain.add(id);
  return chain;
}

/** Why this viewer may not decide this request now, or null. */
async function whyNot(q: Queryable, row: RequestRow, decider: { userId: string; permissions: PermissionSet }, at: Date): Promise<keyof typeof requestMessages | null> {
  const status = statusAt(row, at);
  if (status === 'expired') return 'expired';
  if (status !== 'pending') return 'decided';
  if (!mayDecide(decider.permissions, row.kind as RequestKind)) return 'denied';
  return approvalRefusal({
    approverId: decider.userId,
    requestedBy: row.requestedBy,
    requesterChain: await chainOf(q, row.requestedBy),
    targetChain: await targetChain(q, row),
  });
}

/** Admins and privacy officers see the requests; a refusal is audited. */
export const listAdminRequests = operation({
  name: 'admin.request.list',
  action: auditActions.adminRequest.view,
  resourceType: 'admin_request',
  deniedMessage: requestMessages.denied,
  input: z.unknown(),
  audits: 'refusals',
  authorize: async ({ viewer }) =>
    hasPermission(viewer.permissions, 'admin', adminPermission.readUsers) || hasPermission(viewer.permissions, 'audit', auditPermission.viewIncidents)
      ? { allowed: true, facts: undefined }
      : { allowed: false, reason: 'denied' },
  run: async ({ tx, viewer, at }): Promise<Result<RequestView[], never>> => {
    const rows = await tx.select().from(adminRequests).orderBy(desc(adminRequests.requestedAt)).limit(200);
    const ids = [...new Set(rows.flatMap((r) => [r.requestedBy, r.targetUserId, r.decidedBy]).filter((id): id is string => Boolean(id)))];
    const people = new Map((ids.length ? await tx.select({ id: users.id, email: users.email }).from(users).where(inArray(users.id, ids)) : []).map((u) => [u.id, u.email]));
    const views: RequestView[] = [];
    for (const row of rows) {
      const refusal = await whyNot(tx, row, viewer, at);
      views.push({
        id: row.id,
        kind: row.kind as RequestKind,
        kindLabel: kindLabels[row.kind as RequestKind] ?? row.kind,
        summary: summaryOf(row),
        requestedBy: { id: row.requestedBy, email: people.get(row.requestedBy) ?? row.requestedBy },
        target: row.targetUserId ? { id: row.targetUserId, email: people.get(row.targetUserId) ?? row.targetUserId } : null,
        targetRole: row.targetRole,
        requestedAt: row.requestedAt.toISOString(),
        expiresAt: row.expiresAt.toISOString(),
        status: statusAt(row, at),
        decidedBy: row.decidedBy ? (people.get(row.decidedBy) ?? row.decidedBy) : null,
        decidedAt: row.decidedAt?.toISOString() ?? null,
        cannotDecide: refusal ? requestMessages[refusal] : null,
      });
    }
    // Waiting ones first, the rest newest first.
    return ok(views.sort((a, b) => Number(b.status === 'pending') - Number(a.status === 'pending')));
  },
});

const decisionSchema = z.object({
  requestId: z.string().uuid(requestMessages.not_found),
  decision: z.enum(['approve', 'refuse']),
  adminPassword: z.string().max(1024).optional(),
});
const decisionOf = (raw: unknown) => (raw as { decision?: unknown } | null)?.decision;

type DecideError = 'not_found' | 'expired' | 'decided' | 'denied' | 'own_request' | 'requested_by_your_account' | 'benefits_you' | 'stale' | 'reauth_required';

/**
 * Approves or refuses one request. Either needs the decider's password typed now (checked after
 * the rules, so a request the decider may not decide costs no password attempt); every refusal of
 * the rules is audited with its reason. An approval applies the change as the requester asked it,
 * or refuses it as stale when the account or role changed since.
 */
export const decideAdminRequest = operation({
  name: 'admin.request.decide',
  action: (raw) => (decisionOf(raw) === 'approve' ? auditActions.adminRequest.approve : auditActions.adminRequest.refuse),
  resourceType: 'admin_request',
  deniedMessage: requestMessages.denied,
  target: (raw) => (raw as { requestId?: unknown } | null)?.requestId,
  input: decisionSchema,
  invalid: () => fail('not_found', requestMessages.not_found),
  stepUp: { ...adminStepUp, afterChecks: true },
  lock: () => locks.adminChange,
  authorize: async ({ tx, viewer, input, at }) => {
    const [row] = await tx.select().from(adminRequests).where(eq(adminRequests.id, input.requestId)).limit(1);
    if (!row) return { allowed: false, reason: 'not_found', answer: fail('not_found', requestMessages.not_found) };
    // The decider as stored now, under the lock: disabled or stripped a moment ago decides nothing.
    const actor = await actorNow(tx, viewer);
    const refusal = actor ? await whyNot(tx, row, { userId: viewer.userId, permissions: actor.permissions }, at) : 'denied';
    // Refusing a request needs only the permission: anyone allowed to approve it may stop it, and
    // so may its requester (withdrawing it); only approving is held to the chain rules.
    const refusing = input.decision === 'refuse';
    const blocking = refusing ? (refusal === 'expired' || refusal === 'decided' || (refusal === 'denied' && row.requestedBy !== viewer.userId) ? refusal : null) : refusal;
    if (blocking) {
      return { allowed: false, reason: blocking, resourceId: row.id, details: { kind: row.kind, requestedBy: row.requestedBy }, answer: fail(blocking, requestMessages[blocking]) };
    }
    return { allowed: true, facts: row };
  },
  auditedFailures: ['stale', 'reauth_required'],
  run: async ({ tx, viewer, input, facts: row, recentlyReauthenticated, at, audit }): Promise<Result<{ status: RequestStatus }, DecideError>> => {
    if (!recentlyReauthenticated) return fail('reauth_required', stepUpMessages.reauth_required);
    const decided = { decidedBy: viewer.userId, decidedAt: at };
    const about = { resourceId: row.id, details: { kind: row.kind, requestedBy: row.requestedBy, targetUserId: row.targetUserId, targetRole: row.targetRole } };
    if (input.decision === 'refuse') {
      await tx.update(adminRequests).set({ status: 'refused', ...decided }).where(eq(adminRequests.id, row.id));
      await audit(about);
      return ok({ status: 'refused' }, 'Refused: nothing was changed.');
    }
    const applied = await applyRequest(tx, row, viewer, at, audit);
    if (!applied) return fail('stale', requestMessages.stale);
    await tx.update(adminRequests).set({ status: 'approved', ...decided }).where(eq(adminRequests.id, row.id));
    await audit(about);
    if (applied.privileged) {
      await notifyPrivacyOfficers(tx, {
        kind: 'admin_request.approved',
        message: 'Administrator or privacy-officer powers were granted after a second administrator approved the request.',
        link: APPROVALS_PATH,
      });
    }
    return ok({ status: 'approved' }, 'Approved: the change is made.');
  },
  // A monitor change forgets this process's cached thresholds once it is committed; privacy
  // officers' notices leave now.
  afterCommit: () => {
    forgetMonitorConfig();
    kickAlertDelivery();
  },
});

/**
 * Makes the change a request describes, with the change's own audit entry (as the requester's
 * change, approved by the decider); null when it no longer fits what stands (stale).
 */
async function applyRequest(tx: Tx, row: RequestRow, decider: Viewer, at: Date, audit: (facts: AuditFacts) => Promise<void>): Promise<{ privileged: boolean } | null> {
  const approval = { requestId: row.id, requestedBy: row.requestedBy, approvedBy: decider.userId };
  const kind = row.kind as RequestKind;
  const privilegedRoles = async (names: string[]) => ((await knownRoles(tx, names)) ?? []).some((r) => isPrivileged(r.permissions));
  switch (kind) {
    case 'grant_roles':
    case 'remove_roles': {
      const change = requestChange[kind].safeParse(row.change);
      if (!change.success || !row.targetUserId) return null;
      if (!(await applyRoles(tx, row.targetUserId, change.data.before, change.data.roles, row.requestedBy, at))) return null;
      await audit({ action: auditActions.user.roles, resourceType: 'user', resourceId: row.targetUserId, details: { before: { roles: change.data.before }, after: { roles: change.data.roles }, ...approval } });
      const added = change.data.roles.filter((r) => !change.data.before.includes(r));
      return { privileged: await privilegedRoles(added) };
    }
    case 'create_account': {
      const change = requestChange.create_account.safeParse(row.change);
      if (!change.success || !row.passwordHash) return null;
      const id = await applyCreateAccount(tx, change.data, row.passwordHash, row.requestedBy, at);
      if (!id) return null;
      await audit({ action: auditActions.user.create, resourceType: 'user', resourceId: id, details: { after: { ...change.data, disabled: false }, ...approval } });
      return { privileged: await privilegedRoles(change.data.roles) };
    }
    case 'reset_password': {
      if (!row.targetUserId || !row.passwordHash) return null;
      const sessionsRevoked = await applyPasswordReset(tx, row.targetUserId, row.passwordHash, at);
      await audit({ action: auditActions.user.resetPassword, resourceType: 'user', resourceId: row.targetUserId, details: { passwordReset: true, sessionsRevoked, ...approval } });
      return { privileged: false };
    }
    case 'disable_account': {
      const change = requestChange.disable_account.safeParse(row.change);
      if (!change.success || !row.targetUserId) return null;
      const [target] = await tx.select({ disabledAt: users.disabledAt }).from(users).where(eq(users.id, row.targetUserId)).limit(1);
      if (!target || target.disabledAt) return null;
      const sessionsRevoked = await applyDisable(tx, row.targetUserId, change.data.reason, decider, at);
      await audit({ action: auditActions.user.disable, resourceType: 'user', resourceId: row.targetUserId, details: { before: { disabled: false }, after: { disabled: true, reason: change.data.reason }, sessionsRevoked, ...approval } });
      return { privileged: false };
    }
    case 'edit_role': {
      const change = requestChange.edit_role.safeParse(row.change);
      if (!change.success || !row.targetRole) return null;
      const [role] = await tx.select().from(roles).where(eq(roles.name, row.targetRole)).limit(1);
      if (!role || role.updatedAt.toISOString() !== change.data.expectedUpdatedAt) return null;
      const after = change.data.permissions as PermissionSet;
      await applyRolePermissions(tx, role.name, after, row.requestedBy, at);
      await audit({ action: auditActions.role.update, resourceType: 'role', resourceId: role.name, details: { before: { permissions: role.permissions }, after: { permissions: after }, ...approval } });
      return { privileged: isPrivileged(after) };
    }
    case 'monitor_settings': {
      const change = requestChange.monitor_settings.safeParse(row.change);
      if (!change.success) return null;
      const [current] = await tx.select({ updatedAt: settings.updatedAt }).from(settings).where(eq(settings.key, MONITOR_SETTING)).limit(1);
      if ((current?.updatedAt.toISOString() ?? '') !== change.data.expectedVersion) return null;
      const config = await saveMonitorConfig(tx, change.data.config, row.requestedBy);
      await audit({ action: auditActions.settings.update, resourceType: 'setting', resourceId: MONITOR_SETTING, details: { changed: change.data.changed, after: config, ...approval } });
      return { privileged: false };
    }
    default:
      return null;
  }
}
