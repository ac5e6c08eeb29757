import 'server-only';
import { z } from 'zod';
import type { PermissionSet } from '@/lib/domain/access/permissions';
import { needsSecondFactor } from '@/lib/domain/access/second-factor';

/*
 * The two-person rule: no single administrator reaches PHI, the audit trail or administration
 * alone. A privileged change is not made; it is *requested* (lib/features/admin/requests.ts), and
 * takes effect only when a second, different person approves it before it expires:
 *
 * - granting any role (every role grants some power; a PHI role is what a puppet account is for),
 *   and so creating an account that holds a role;
 * - resetting someone's password (it hands the admin that account);
 * - removing privacy-officer powers: disabling an account that holds audit permissions, taking a
 *   role with audit permissions from someone, or editing audit patterns out of a role;
 * - adding any pattern to a role's permissions;
 * - moving a monitor threshold away from its default (approved by a privacy officer, who works the
 *   incidents those thresholds open).
 *
 * The break-glass window is not on the list: code bounds it (15–240 minutes), every grant is
 * reviewed whatever its length, and a change needs the admin's password typed now and is
 * announced to the privacy officers (lib/features/break-glass/settings.ts).
 *
 * "Different person" is judged over the *chain* of an account: the account itself and, through
 * every privileged role it holds (admin or audit powers, lib/domain/access/second-factor.ts), the
 * accounts that created it or granted it that role, and theirs in turn. An admin who creates a
 * puppet admin is in the puppet's chain, so:
 *
 * 1. nobody approves their own request;
 * 2. nobody approves a request filed by an account in whose chain they stand (the puppet's
 *    request is its maker's own);
 * 3. nobody approves a change to an account in whose chain they stand (their own, or their
 *    puppet's);
 * 4. nobody files a change to an account that stands in their own chain (a puppet acting on its
 *    maker is the maker administering themselves), and nobody puts such an account on a care
 *    team: an admin never gets a PHI role or care-team rows through their own request chain.
 *
 * Legacy accounts made before requests existed are judged the same way, from who created them and
 * who granted their roles.
 */

export const requestKinds = ['grant_roles', 'create_account', 'reset_password', 'disable_account', 'remove_roles', 'edit_role', 'monitor_settings'] as const;
export type RequestKind = (typeof requestKinds)[number];

/** Who approves a kind of request: another administrator, or a privacy officer. */
export type Approver = 'admin' | 'privacy_officer';
export const approverOf: Record<RequestKind, Approver> = {
  grant_roles: 'admin',
  create_account: 'admin',
  reset_password: 'admin',
  disable_account: 'admin',
  remove_roles: 'admin',
  edit_role: 'admin',
  monitor_settings: 'privacy_officer',
};

/** How long a request waits for its second person before it lapses and must be filed again. */
export const REQUEST_LIFETIME_MS = 24 * 60 * 60_000;

export const requestStatuses = ['pending', 'approved', 'refused', 'expired'] as const;
export type RequestStatus = (typeof requestStatuses)[number];

/** A stored status as it stands at `at`: a pending request past its expiry is expired. */
export function statusAt(row: { status: string; expiresAt: Date }, at: Date): RequestStatus {
  if (row.status === 'pending' && row.expiresAt.getTime() <= at.getTime()) return 'expired';
  return (requestStatuses as readonly string[]).includes(row.status) ? (row.status as RequestStatus) : 'refused';
}

/** Privileged: powers over administration or the audit trail (the roles a chain runs through). */
export const isPrivileged = (permissions: PermissionSet): boolean => needsSecondFactor(permissions);

/** Holds privacy-officer powers: anything in the audit category. */
export const holdsAuditPowers = (permissions: PermissionSet): boolean => (permissions.audit?.length ?? 0) > 0;

/** True when `after` takes away an audit pattern that `before` had. */
export function removesAuditPowers(before: PermissionSet, after: PermissionSet): boolean {
  const kept = new Set(after.audit ?? []);
  return (before.audit ?? []).some((pattern) => !kept.has(pattern));
}

export type ApprovalRefusal = 'own_request' | 'requested_by_your_account' | 'benefits_you';

/** Rules 1–3: why `approverId` may not approve, or null. Chains include the account itself. */
export function approvalRefusal(request: {
  approverId: string;
  requestedBy: string;
  requesterChain: ReadonlySet<string>;
  /** The chain of the account the change is made to; null for an account still to be created (its chain is the requester's). */
  targetChain: ReadonlySet<string> | null;
}): ApprovalRefusal | null {
  if (request.approverId === request.requestedBy) return 'own_request';
  if (request.requesterChain.has(request.approverId)) return 'requested_by_your_account';
  if (request.targetChain?.has(request.approverId)) return 'benefits_you';
  return null;
}

/** Rule 4: the requester (or assigner) acts on an account in their own chain. */
export function actsOnOwnChain(requesterChain: ReadonlySet<string>, targetId: string): boolean {
  return requesterChain.has(targetId);
}

/**
 * What each kind of request carries in `change`, checked again when it is approved (a row edited
 * in the database is refused, not trusted). PHI-free: role names, an email and a display name,
 * setting values; a new password only ever as its argon2id hash, in its own column.
 */
const roleNames = z.array(z.string().regex(/^[a-z][a-z0-9_]{0,39}$/)).max(20);
export const requestChange = {
  grant_roles: z.object({ roles: roleNames, before: roleNames }),
  remove_roles: z.object({ roles: roleNames, before: roleNames }),
  create_account: z.object({ email: z.string().max(254), displayName: z.string().max(100), roles: roleNames }),
  reset_password: z.object({}),
  disable_account: z.object({ reason: z.string().max(40) }),
  edit_role: z.object({ permissions: z.record(z.string(), z.array(z.string())), expectedUpdatedAt: z.string() }),
  monitor_settings: z.object({ config: z.record(z.string(), z.unknown()), changed: z.array(z.string()), expectedVersion: z.string() }),
} satisfies Record<RequestKind, z.ZodType>;
export type RequestChange<K extends RequestKind> = z.infer<(typeof requestChange)[K]>;
