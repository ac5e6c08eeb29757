import 'server-only';
import type { Tx } from '@/db/client';
import { adminRequests } from '@/db/schema';
import { approverOf, REQUEST_LIFETIME_MS, type Approver, type RequestChange, type RequestKind } from '@/lib/domain/access/two-person';
import type { Viewer } from '@/lib/domain/access/viewer';
import { auditActions } from '@/lib/domain/audit/actions';
import type { AuditFacts } from '@/lib/pipeline/operation';
import { notifyPrivacyOfficers } from '@/lib/features/notify';

/**
 * Filing a privileged change as a request for a second person (the rule itself:
 * lib/domain/access/two-person.ts; deciding: ./approvals.ts). The admin operations of this folder
 * call `fileRequest` where they would otherwise make the change, inside their own transaction,
 * under the admin-change lock, after their own checks and the admin's password.
 */

export const APPROVALS_PATH = '/admin/requests';

/** What the requester, and later the approver, is told, as it is shown. */
export const requestMessages = {
  filed_admin: 'Sent for approval: another administrator must approve this change on the Approvals page before it takes effect (within 24 hours).',
  filed_privacy_officer: 'Sent for approval: a privacy officer must approve this change on the Approvals page before it takes effect (within 24 hours).',
  own_chain: 'This account created yours or gave you your powers, so changing it would be acting for yourself. Ask another administrator.',
  own_request: 'You cannot approve your own request. Another person must.',
  requested_by_your_account: 'This request comes from an account you created or gave its powers to, so approving it would be your decision alone. Another person must approve it.',
  benefits_you: 'This change is to your own account, to one you created or gave its powers to, or to a role you hold. Another person must approve it.',
  expired: 'This request expired before anyone approved it. Ask again if it is still needed.',
  decided: 'This request has already been decided.',
  not_found: 'No request matches this link. Reload the page.',
  denied: 'You may not decide this kind of change.',
  stale: 'The account or role changed after this request was made, so it was not applied. Ask again if it is still needed.',
} as const;

export const filedMessage = (approver: Approver) => (approver === 'admin' ? requestMessages.filed_admin : requestMessages.filed_privacy_officer);

/** What a filed request answers: nothing changed yet, the request waits. */
export interface Filed {
  requestId: string;
}

interface Filing<K extends RequestKind> {
  kind: K;
  change: RequestChange<K>;
  targetUserId?: string;
  targetRole?: string;
  /** A new password, only ever as its argon2id hash. */
  passwordHash?: string;
  /** It would grant administrator or privacy-officer powers: privacy officers hear of it now. */
  privileged?: boolean;
}

/** Writes the request and its audit entry in the operation's transaction; announces privileged grants. */
export async function fileRequest<K extends RequestKind>(
  ctx: { tx: Tx; viewer: Viewer; at: Date; audit: (facts: AuditFacts) => Promise<void> },
  filing: Filing<K>,
): Promise<Filed> {
  const { tx, viewer, at, audit } = ctx;
  const approver = approverOf[filing.kind];
  const [row] = await tx
    .insert(adminRequests)
    .values({
      kind: filing.kind,
      targetUserId: filing.targetUserId ?? null,
      targetRole: filing.targetRole ?? null,
      change: filing.change as Record<string, unknown>,
      passwordHash: filing.passwordHash ?? null,
      approver,
      requestedBy: viewer.userId,
      requestedAt: at,
      expiresAt: new Date(at.getTime() + REQUEST_LIFETIME_MS),
    })
    .returning({ id: adminRequests.id });
  const requestId = row!.id;
  await audit({
    action: auditActions.adminRequest.file,
    resourceType: 'admin_request',
    resourceId: requestId,
    details: { kind: filing.kind, approver, targetUserId: filing.targetUserId ?? null, targetRole: filing.targetRole ?? null, change: filing.change, privileged: Boolean(filing.privileged) },
  });
  if (filing.privileged || approver === 'privacy_officer') {
    await notifyPrivacyOfficers(tx, {
      kind: 'admin_request',
      message:
        approver === 'privacy_officer'
          ? 'An administrator asked to change the access monitor’s thresholds; a privacy officer must approve it.'
          : 'An administrator asked to grant administrator or privacy-officer powers; it waits for a second administrator.',
      link: APPROVALS_PATH,
    });
  }
  return { requestId };
}
