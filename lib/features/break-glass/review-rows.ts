import 'server-only';
import { breakGlassGrants, users } from '@/db/schema';
import { auditPermission } from '@/lib/domain/access/permission-names';
import { reasonLabels, type BreakGlassReason } from '@/lib/domain/break-glass/justification';
import { isUuid } from '@/lib/domain/ids';

/**
 * What the privacy officer's review pages share: the permission they need, the verdicts, the
 * refusal messages, and how a grant row becomes a queue line (staff, patient id, reason, times:
 * no PHI).
 */
export const reviewPermission = { category: 'audit', name: auditPermission.reviewBreakGlass } as const;

export const reviewVerdicts = ['appropriate', 'referred'] as const;
export type ReviewVerdict = (typeof reviewVerdicts)[number];
export const verdictLabels: Record<ReviewVerdict | 'pending' | 'tampered', string> = {
  pending: 'Pending review',
  appropriate: 'Appropriate',
  referred: 'Referred for investigation',
  tampered: 'Record altered outside Vigil (reported)',
};

export const reviewMessages = {
  denied: 'You do not have permission to review emergency access.',
  not_found: 'No emergency access grant matches this link.',
  already_reviewed: 'This grant has already been reviewed.',
  own_grant: 'You cannot review your own emergency access.',
  key_unavailable: 'The verdict could not be recorded: the patient’s key cannot be opened to protect the comment. Try again later.',
  reveal_reason: 'Choose why you are opening the justification and MRN.',
  tampered: 'This grant’s record was altered outside Vigil, so no verdict can be recorded on it. It has been reported as a case for privacy officers.',
} as const;

/** `tampered`: the stored row fails its MAC, so neither its window nor its verdict can be believed. */
export type GrantState = 'active' | 'expired' | 'ended' | 'tampered';

export interface StaffRef {
  id: string;
  displayName: string;
  email: string;
}

export interface ReviewQueueItem {
  grantId: string;
  user: StaffRef;
  patientId: string;
  reasonCode: string;
  reasonLabel: string;
  grantedAt: string;
  expiresAt: string;
  endedAt: string | null;
  endedReason: string | null;
  state: GrantState;
  reviewStatus: string;
  reviewedAt: string | null;
  /** The stored row failed its integrity check: its state and verdict read `tampered`, never what it claims. */
  tampered: boolean;
  /** Audit entries made under the grant (views, changes, its creation and end). */
  activityCount: number;
}

export const staffColumns = { id: users.id, displayName: users.displayName, email: users.email };

/** A grant with the clinician who holds it. */
export const grantRow = { grant: breakGlassGrants, user: staffColumns };

/** The grant id a raw request names, kept in refusal entries only if it has a uuid's shape. */
export function grantTarget(raw: unknown): string | null {
  const id = typeof raw === 'string' ? raw : (raw as { grantId?: unknown } | null)?.grantId;
  return typeof id === 'string' && isUuid(id) ? id : null;
}

function stateOf(grant: typeof breakGlassGrants.$inferSelect, at: Date): GrantState {
  if (grant.endedAt) return 'ended';
  return grant.expiresAt.getTime() > at.getTime() ? 'active' : 'expired';
}

/**
 * A grant as a queue line. A tampered grant stays on the list (hiding it would hide the emergency
 * access itself) but shows as tampered: a verdict or window written into it by SQL is not shown.
 */
export function toItem(row: { grant: typeof breakGlassGrants.$inferSelect; user: StaffRef }, activityCount: number, at: Date, intact: boolean): ReviewQueueItem {
  const g = row.grant;
  const item: ReviewQueueItem = {
    grantId: g.id,
    user: row.user,
    patientId: g.patientId,
    reasonCode: g.reasonCode,
    reasonLabel: reasonLabels[g.reasonCode as BreakGlassReason] ?? g.reasonCode,
    grantedAt: g.grantedAt.toISOString(),
    expiresAt: g.expiresAt.toISOString(),
    endedAt: g.endedAt?.toISOString() ?? null,
    endedReason: g.endedReason,
    state: stateOf(g, at),
    reviewStatus: g.reviewStatus,
    reviewedAt: g.reviewedAt?.toISOString() ?? null,
    tampered: false,
    activityCount,
  };
  return intact ? item : { ...item, state: 'tampered', reviewStatus: 'tampered', reviewedAt: null, tampered: true };
}
