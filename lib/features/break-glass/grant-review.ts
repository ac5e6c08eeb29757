import 'server-only';
import { asc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { auditLog, breakGlassGrants, patients, sessions, users } from '@/db/schema';
import { auditActions } from '@/lib/domain/audit/actions';
import type { Demographics } from '@/lib/domain/chart/sections';
import { fail, ok, type Result } from '@/lib/domain/result';
import { openReviewComment, type ReviewComment } from '@/lib/features/break-glass/review-comment';
import { grantRow, grantTarget, reviewMessages, reviewPermission, staffColumns, toItem, type ReviewQueueItem, type StaffRef } from '@/lib/features/break-glass/review-rows';
import { operation } from '@/lib/pipeline/operation';
import { DecryptionError, getPatientCipher } from '@/lib/platform/crypto';

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

/**
 * One grant in full for its reviewer: the justification and MRN (decrypted with the patient's
 * key — a disclosure, so audited), how and when it ended, and every audit entry made under it,
 * with the chart sections each view showed. Called with the grant id of the link.
 */
export const getGrantReview = operation({
  name: 'break-glass.grant-review',
  action: auditActions.breakGlass.reviewView,
  resourceType: 'break_glass_grant',
  permission: reviewPermission,
  deniedMessage: reviewMessages.denied,
  target: grantTarget,
  input: z.uuid(),
  invalid: () => fail('not_found', reviewMessages.not_found),
  run: async ({ tx, viewer, input: grantId, at, audit }): Promise<Result<GrantReview, 'not_found'>> => {
    const [row] = await tx
      .select(grantRow)
      .from(breakGlassGrants)
      .innerJoin(users, eq(users.id, breakGlassGrants.userId))
      .where(eq(breakGlassGrants.id, grantId))
      .limit(1);
    if (!row) return fail('not_found', reviewMessages.not_found);
    const g = row.grant;

    const entries = await tx.select().from(auditLog).where(eq(auditLog.breakGlassGrantId, grantId)).orderBy(asc(auditLog.seq));
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

    const { cipher, unwrapped } = await getPatientCipher(tx, g.patientId);
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
    const [patient] = await tx.select({ sealed: patients.sealedDemographics }).from(patients).where(eq(patients.id, g.patientId)).limit(1);
    const mrn = patient ? (open<Demographics>('patients', 'sealed_demographics', g.patientId, patient.sealed)?.mrn ?? null) : null;
    const reviewComment = openReviewComment(cipher, g);

    const [session] = g.sessionId
      ? await tx.select({ revokedAt: sessions.revokedAt, revokedReason: sessions.revokedReason }).from(sessions).where(eq(sessions.id, g.sessionId)).limit(1)
      : [];
    const sessionEnded =
      session?.revokedAt && session.revokedAt.getTime() < g.expiresAt.getTime()
        ? { at: session.revokedAt.toISOString(), reason: session.revokedReason }
        : null;
    const reviewer = g.reviewerId ? ((await tx.select(staffColumns).from(users).where(eq(users.id, g.reviewerId)).limit(1))[0] ?? null) : null;

    await audit({
      resourceId: g.id,
      patientId: g.patientId,
      details: { fields: ['justification', 'mrn', ...(reviewComment?.status === 'shown' ? ['review_comment'] : [])], keyUnwrapped: unwrapped },
    });

    const item = toItem(row, activity.length, at);
    // A session that ended before the window did ends the grant too (lib/domain/access binds grants to sessions).
    if (item.state === 'active' && sessionEnded) item.state = 'ended';
    return ok({
      ...item,
      mrn,
      justification,
      sessionEnded,
      sectionsViewed,
      activity,
      reviewer,
      reviewComment,
      canReview: g.reviewStatus === 'pending' && g.userId !== viewer.userId,
    });
  },
});
