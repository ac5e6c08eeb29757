import 'server-only';
import { and, asc, count, desc, eq, inArray, sql } from 'drizzle-orm';
import { z } from 'zod';
import { getDb, type Queryable } from '@/db/client';
import { auditLog, breakGlassGrants, patients, sessions, users } from '@/db/schema';
import { hasAuditPermission } from '@/lib/domain/access/policy';
import type { Viewer } from '@/lib/domain/access/viewer';
import { recordAudit } from '@/lib/platform/audit';
import { now as clockNow } from '@/lib/platform/clock';
import { DecryptionError, getPatientCipher } from '@/lib/platform/crypto';
import type { Demographics } from '@/lib/domain/chart/sections';
import { reasonLabels, type BreakGlassReason } from '@/lib/domain/break-glass/justification';
import { openReviewComment, sealReviewComment, type ReviewComment } from '@/lib/features/break-glass/review-comment';

const REVIEW_PERMISSION = 'break_glass.review';
const uuid = z.string().uuid();

export const reviewVerdicts = ['appropriate', 'referred'] as const;
export type ReviewVerdict = (typeof reviewVerdicts)[number];
export const verdictLabels: Record<ReviewVerdict | 'pending', string> = {
  pending: 'Pending review',
  appropriate: 'Appropriate',
  referred: 'Referred for investigation',
};

export type GrantState = 'active' | 'expired' | 'ended';

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
  /** Audit entries made under the grant (views, changes, its creation and end). */
  activityCount: number;
}

export interface GrantActivity {
  seq: number;
  occurredAt: string;
  action: string;
  resourceType: string;
  resourceId: string | null;
  outcome: string;
  /** Chart sections shown, for chart views. */
  sections: string[];
}

export interface GrantReview extends ReviewQueueItem {
  mrn: string | null;
  justification: string | null;
  sessionEnded: { at: string; reason: string | null } | null;
  sectionsViewed: string[];
  activity: GrantActivity[];
  reviewer: StaffRef | null;
  /** Null until a verdict is in. */
  reviewComment: ReviewComment | null;
  /** False for the grant's own user (nobody reviews themself) and once a verdict is in. */
  canReview: boolean;
}

export interface RefusedRequest {
  seq: number;
  occurredAt: string;
  user: StaffRef | null;
  patientId: string | null;
  reason: string;
}

export type ReviewError = 'denied' | 'not_found' | 'invalid' | 'already_reviewed' | 'own_grant' | 'key_unavailable';
export type Reviewed<T> = { ok: true; value: T } | { ok: false; error: ReviewError; message: string };

export const reviewMessages: Record<Exclude<ReviewError, 'invalid'>, string> = {
  denied: 'You do not have permission to review emergency access.',
  not_found: 'No emergency access grant matches this link.',
  already_reviewed: 'This grant has already been reviewed.',
  own_grant: 'You cannot review your own emergency access.',
  key_unavailable: 'The verdict could not be recorded: the patient’s key cannot be opened to protect the comment. Try again later.',
};

const grantRow = {
  grant: breakGlassGrants,
  user: { id: users.id, displayName: users.displayName, email: users.email },
};

function stateOf(grant: typeof breakGlassGrants.$inferSelect, at: Date): GrantState {
  if (grant.endedAt) return 'ended';
  return grant.expiresAt.getTime() > at.getTime() ? 'active' : 'expired';
}

function toItem(row: { grant: typeof breakGlassGrants.$inferSelect; user: StaffRef }, activityCount: number, at: Date): ReviewQueueItem {
  const g = row.grant;
  return {
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
    activityCount,
  };
}

async function refuse(viewer: Viewer, action: string, grantId: string | null, reason: string): Promise<void> {
  const db = await getDb();
  await db.transaction((tx) =>
    recordAudit(tx, {
      actor: viewer,
      action,
      resourceType: 'break_glass_grant',
      resourceId: grantId && uuid.safeParse(grantId).success ? grantId : null,
      outcome: 'denied',
      details: { reason },
    }),
  );
}

async function activityCounts(q: Queryable, grantIds: string[]): Promise<Map<string, number>> {
  if (grantIds.length === 0) return new Map();
  const rows = await q
    .select({ grantId: auditLog.breakGlassGrantId, n: count() })
    .from(auditLog)
    .where(inArray(auditLog.breakGlassGrantId, grantIds))
    .groupBy(auditLog.breakGlassGrantId);
  return new Map(rows.map((r) => [r.grantId!, r.n]));
}

/**
 * The privacy officers' queue: grants awaiting a verdict first (oldest first, so nothing waits
 * forever), then reviewed ones, newest first. No PHI: staff, patient id, reason and times.
 */
export async function listReviewQueue(viewer: Viewer, limit = 100): Promise<Reviewed<ReviewQueueItem[]>> {
  if (!hasAuditPermission(viewer, REVIEW_PERMISSION)) {
    await refuse(viewer, 'break_glass.queue_view', null, 'no_permission');
    return { ok: false, error: 'denied', message: reviewMessages.denied };
  }
  const db = await getDb();
  const rows = await db
    .select(grantRow)
    .from(breakGlassGrants)
    .innerJoin(users, eq(users.id, breakGlassGrants.userId))
    .orderBy(
      sql`CASE WHEN ${breakGlassGrants.reviewStatus} = 'pending' THEN 0 ELSE 1 END`,
      sql`CASE WHEN ${breakGlassGrants.reviewStatus} = 'pending' THEN ${breakGlassGrants.grantedAt} END ASC`,
      desc(breakGlassGrants.grantedAt),
    )
    .limit(Math.min(Math.max(1, limit), 500));
  const counts = await activityCounts(db, rows.map((r) => r.grant.id));
  const at = clockNow();
  return { ok: true, value: rows.map((r) => toItem(r, counts.get(r.grant.id) ?? 0, at)) };
}

/**
 * One grant in full for its reviewer: the justification and MRN (decrypted with the patient's
 * key — a disclosure, so audited), how and when it ended, and every audit entry made under it,
 * with the chart sections each view showed.
 */
export async function getGrantReview(viewer: Viewer, grantId: string): Promise<Reviewed<GrantReview>> {
  if (!hasAuditPermission(viewer, REVIEW_PERMISSION)) {
    await refuse(viewer, 'break_glass.review_view', grantId, 'no_permission');
    return { ok: false, error: 'denied', message: reviewMessages.denied };
  }
  if (!uuid.safeParse(grantId).success) return { ok: false, error: 'not_found', message: reviewMessages.not_found };
  const db = await getDb();
  const [row] = await db
    .select(grantRow)
    .from(breakGlassGrants)
    .innerJoin(users, eq(users.id, breakGlassGrants.userId))
    .where(eq(breakGlassGrants.id, grantId))
    .limit(1);
  if (!row) return { ok: false, error: 'not_found', message: reviewMessages.not_found };
  const g = row.grant;

  const entries = await db
    .select()
    .from(auditLog)
    .where(eq(auditLog.breakGlassGrantId, grantId))
    .orderBy(asc(auditLog.seq));
  const activity: GrantActivity[] = entries.map((e) => ({
    seq: e.seq,
    occurredAt: e.occurredAt.toISOString(),
    action: e.actionType,
    resourceType: e.resourceType,
    resourceId: e.resourceId,
    outcome: e.outcome,
    sections: Array.isArray(e.details?.sections) ? (e.details.sections as unknown[]).filter((s): s is string => typeof s === 'string') : [],
  }));
  const sectionsViewed = [...new Set(activity.flatMap((a) => a.sections))];

  const { cipher, unwrapped } = await getPatientCipher(db, g.patientId);
  const open = <T>(table: string, column: string, rowId: string, sealed: string): T | null => {
    if (!cipher) return null;
    try {
      return cipher.open<T>(table, column, rowId, sealed);
    } catch (error) {
      if (error instanceof DecryptionError) return null;
      throw error;
    }
  };
  const justification = open<string>('break_glass_grants', 'sealed_justification', g.id, g.sealedJustification);
  const [patient] = await db.select({ sealed: patients.sealedDemographics }).from(patients).where(eq(patients.id, g.patientId)).limit(1);
  const mrn = patient ? (open<Demographics>('patients', 'sealed_demographics', g.patientId, patient.sealed)?.mrn ?? null) : null;
  const reviewComment = openReviewComment(cipher, g);

  const [session] = g.sessionId
    ? await db.select({ revokedAt: sessions.revokedAt, revokedReason: sessions.revokedReason }).from(sessions).where(eq(sessions.id, g.sessionId)).limit(1)
    : [];
  const sessionEnded =
    session?.revokedAt && session.revokedAt.getTime() < g.expiresAt.getTime()
      ? { at: session.revokedAt.toISOString(), reason: session.revokedReason }
      : null;
  const reviewer = g.reviewerId
    ? ((await db.select({ id: users.id, displayName: users.displayName, email: users.email }).from(users).where(eq(users.id, g.reviewerId)).limit(1))[0] ?? null)
    : null;

  await db.transaction((tx) =>
    recordAudit(tx, {
      actor: viewer,
      action: 'break_glass.review_view',
      resourceType: 'break_glass_grant',
      resourceId: g.id,
      patientId: g.patientId,
      outcome: 'allowed',
      details: { fields: ['justification', 'mrn', ...(reviewComment?.status === 'shown' ? ['review_comment'] : [])], keyUnwrapped: unwrapped },
    }),
  );

  const at = clockNow();
  const item = toItem(row, activity.length, at);
  // A session that ended before the window did ends the grant too (lib/domain/access binds grants to sessions).
  if (item.state === 'active' && sessionEnded) item.state = 'ended';
  return {
    ok: true,
    value: {
      ...item,
      mrn,
      justification,
      sessionEnded,
      sectionsViewed,
      activity,
      reviewer,
      reviewComment,
      canReview: g.reviewStatus === 'pending' && g.userId !== viewer.userId,
    },
  };
}

const reviewSchema = z.object({
  grantId: z.string().uuid(),
  verdict: z.enum(reviewVerdicts, { error: 'Choose a verdict: appropriate, or refer for investigation.' }),
  comment: z
    .string({ error: 'Write a comment explaining the verdict.' })
    .trim()
    .min(10, 'Write a comment of at least 10 characters explaining the verdict.')
    .max(2000, 'Keep the comment under 2000 characters.'),
});

export interface ReviewRecorded {
  grantId: string;
  verdict: ReviewVerdict;
  /** False when the patient was crypto-shredded: the verdict stands, the comment had no key to be sealed with. */
  commentKept: boolean;
}

/**
 * A verdict with a comment, once per grant, never on one's own grant; audited either way. The
 * comment is sealed with the patient's data key; the audit entry records only its length.
 */
export async function reviewGrant(viewer: Viewer, input: unknown, at = clockNow()): Promise<Reviewed<ReviewRecorded>> {
  const raw = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const claimedId = typeof raw.grantId === 'string' ? raw.grantId : null;
  if (!hasAuditPermission(viewer, REVIEW_PERMISSION)) {
    await refuse(viewer, 'break_glass.review', claimedId, 'no_permission');
    return { ok: false, error: 'denied', message: reviewMessages.denied };
  }
  const parsed = reviewSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues.find((i) => i.path[0] !== 'grantId') ?? parsed.error.issues[0];
    if (issue?.path[0] === 'grantId') return { ok: false, error: 'not_found', message: reviewMessages.not_found };
    return { ok: false, error: 'invalid', message: issue?.message ?? 'Check the form and try again.' };
  }
  const { grantId, verdict, comment } = parsed.data;
  const db = await getDb();
  return db.transaction(async (tx): Promise<Reviewed<ReviewRecorded>> => {
    const [grant] = await tx.select().from(breakGlassGrants).where(eq(breakGlassGrants.id, grantId)).limit(1);
    const deny = async (error: Exclude<ReviewError, 'invalid'>) => {
      await recordAudit(tx, {
        actor: viewer,
        action: 'break_glass.review',
        resourceType: 'break_glass_grant',
        resourceId: grantId,
        patientId: grant?.patientId ?? null,
        outcome: 'denied',
        details: { reason: error, verdict },
      });
      return { ok: false as const, error, message: reviewMessages[error] };
    };
    if (!grant) return deny('not_found');
    if (grant.userId === viewer.userId) return deny('own_grant');
    if (grant.reviewStatus !== 'pending') return deny('already_reviewed');
    const { cipher, unwrapped, unavailable } = await getPatientCipher(tx, grant.patientId);
    if (unavailable) return deny('key_unavailable');
    const updated = await tx
      .update(breakGlassGrants)
      .set({ reviewStatus: verdict, reviewerId: viewer.userId, sealedReviewComment: cipher ? sealReviewComment(cipher, grantId, comment) : null, reviewedAt: at })
      .where(and(eq(breakGlassGrants.id, grantId), eq(breakGlassGrants.reviewStatus, 'pending')))
      .returning({ id: breakGlassGrants.id });
    if (updated.length === 0) return deny('already_reviewed');
    await recordAudit(tx, {
      actor: viewer,
      action: 'break_glass.review',
      resourceType: 'break_glass_grant',
      resourceId: grantId,
      patientId: grant.patientId,
      outcome: 'allowed',
      details: { verdict, reasonCode: grant.reasonCode, commentLength: comment.length, commentKept: Boolean(cipher), keyUnwrapped: unwrapped },
    });
    return { ok: true, value: { grantId, verdict, commentKept: Boolean(cipher) } };
  });
}

/** Refused emergency-access requests (wrong role, bad justification, failed step-up), newest first. */
export async function listRefusedRequests(viewer: Viewer, limit = 20): Promise<Reviewed<RefusedRequest[]>> {
  if (!hasAuditPermission(viewer, REVIEW_PERMISSION)) return { ok: false, error: 'denied', message: reviewMessages.denied };
  const db = await getDb();
  const rows = await db
    .select({ entry: auditLog, user: { id: users.id, displayName: users.displayName, email: users.email } })
    .from(auditLog)
    .leftJoin(users, eq(users.id, auditLog.userId))
    .where(and(eq(auditLog.actionType, 'break_glass.request'), eq(auditLog.outcome, 'denied')))
    .orderBy(desc(auditLog.seq))
    .limit(Math.min(Math.max(1, limit), 200));
  return {
    ok: true,
    value: rows.map(({ entry, user }) => ({
      seq: entry.seq,
      occurredAt: entry.occurredAt.toISOString(),
      user,
      patientId: entry.resourceId,
      reason: typeof entry.details?.reason === 'string' ? entry.details.reason : 'unknown',
    })),
  };
}
