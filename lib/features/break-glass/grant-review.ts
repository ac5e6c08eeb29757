import 'server-only';
import { asc, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable } from '@/db/client';
import { auditLog, breakGlassGrants, patients, sessions, users } from '@/db/schema';
import { auditActions } from '@/lib/domain/audit/actions';
import { revealReason } from '@/lib/domain/audit/reveal-reasons';
import type { Demographics } from '@/lib/domain/chart/sections';
import { fail, ok, type Result } from '@/lib/domain/result';
import { openReviewComment, type ReviewComment } from '@/lib/features/break-glass/review-comment';
import { grantRow, grantTarget, reviewMessages, reviewPermission, staffColumns, toItem, type ReviewQueueItem, type StaffRef } from '@/lib/features/break-glass/review-rows';
import { operation } from '@/lib/pipeline/operation';
import { DecryptionError, getPatientCipher } from '@/lib/platform/crypto';
import { intactRow, macColumns } from '@/lib/platform/integrity';

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
 * One grant for its reviewer, as the review page's GET shows it: who, the reason category, how
 * and when it ended, and every audit entry made under it with the chart sections each view
 * showed. The justification and MRN stay sealed (`revealGrantSealed` opens them, in a POST with a
 * reason), so no link or cross-site navigation opens them. Called with the grant id of the link.
 */
export const getGrantReview = operation({
  name: 'break-glass.grant-review',
  // A privacy officer's look at one record, audited like an audit entry's or a case's: not a PHI access.
  action: auditActions.breakGlass.grantView,
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
    // A grant altered outside Vigil is still shown (it is evidence), but as tampered, never with the verdict or window written into it.
    const intact = await intactRow(tx, 'break_glass_grants', g);

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

    // A grant awaiting its verdict has no comment to open: its page unwraps no patient key at all.
    const reviewComment =
      g.sealedReviewComment === null && g.reviewStatus === 'pending' ? null : openReviewComment((await getPatientCipher(tx, g.patientId)).cipher, g);

    const [session] = g.sessionId
      ? await tx.select({ ...macColumns.sessions, revokedReason: sessions.revokedReason }).from(sessions).where(eq(sessions.id, g.sessionId)).limit(1)
      : [];
    // An end time from a session row altered outside Vigil is not shown as how the grant ended.
    const sessionTrusted = session !== undefined && (await intactRow(tx, 'sessions', session));
    const sessionEnded =
      sessionTrusted && session.revokedAt && session.revokedAt.getTime() < g.expiresAt.getTime()
        ? { at: session.revokedAt.toISOString(), reason: session.revokedReason }
        : null;
    const reviewer = intact && g.reviewerId ? ((await tx.select(staffColumns).from(users).where(eq(users.id, g.reviewerId)).limit(1))[0] ?? null) : null;

    // No patient id: nothing of the patient's is shown, so it is no disclosure (the comment is the reviewer's own).
    await audit({ resourceId: g.id, details: { fields: reviewComment?.status === 'shown' ? ['review_comment'] : [] } });

    const item = toItem(row, activity.length, at, intact);
    // A session that ended before the window did ends the grant too (lib/domain/access binds grants to sessions).
    if (item.state === 'active' && sessionEnded) item.state = 'ended';
    return ok({
      ...item,
      sessionEnded,
      sectionsViewed,
      activity,
      reviewer,
      reviewComment,
      canReview: intact && g.reviewStatus === 'pending' && g.userId !== viewer.userId,
    });
  },
});

/** A grant's sealed values, as the answer to the reveal shows them; null where they will not open. */
export interface GrantSealed {
  justification: string | null;
  mrn: string | null;
}

const grantPatient = async (q: Queryable, grantId: string) =>
  (await q.select({ patientId: breakGlassGrants.patientId }).from(breakGlassGrants).where(eq(breakGlassGrants.id, grantId)).limit(1))[0]?.patientId ?? null;

/**
 * Opens a grant's justification and the patient's MRN for its reviewer: a PHI access of the
 * grant's patient (monitored like a chart view), asked for with a reason from the reveal list,
 * only by a POST (a server action: Next refuses one from another origin). A refusal, like the
 * reveal itself, is recorded against the patient, so attempts show in their accounting of
 * disclosures too.
 */
export const revealGrantSealed = operation({
  name: 'break-glass.grant-reveal',
  action: auditActions.breakGlass.reviewView,
  resourceType: 'break_glass_grant',
  permission: reviewPermission,
  deniedMessage: reviewMessages.denied,
  target: grantTarget,
  targetPatient: grantPatient,
  input: z.object({ grantId: z.uuid(), reason: revealReason(reviewMessages.reveal_reason) }),
  invalid: (error) =>
    error.issues.some((i) => i.path[0] === 'reason')
      ? fail('invalid', reviewMessages.reveal_reason, { reason: reviewMessages.reveal_reason })
      : fail('not_found', reviewMessages.not_found),
  auditInvalid: true,
  authorize: async ({ tx, input }) => {
    const [grant] = await tx.select().from(breakGlassGrants).where(eq(breakGlassGrants.id, input.grantId)).limit(1);
    if (!grant) return { allowed: false, reason: 'not_found', resourceId: input.grantId, answer: fail('not_found', reviewMessages.not_found) };
    return { allowed: true, facts: grant };
  },
  run: async ({ tx, input, facts: grant, audit }): Promise<Result<GrantSealed, 'not_found'>> => {
    const { cipher, unwrapped } = await getPatientCipher(tx, grant.patientId);
    // Recorded before anything is opened: a read records its entry before it returns data.
    await audit({
      resourceId: grant.id,
      patientId: grant.patientId,
      details: { reason: input.reason, fields: ['justification', 'mrn'], keyUnwrapped: unwrapped },
    });
    const open = <T>(table: string, column: string, rowId: string, sealed: string): T | null => {
      if (!cipher) return null;
      try {
        return cipher.open<T>(table, column, rowId, sealed);
      } catch (error) {
        if (error instanceof DecryptionError) return null;
        throw error;
      }
    };
    const [patient] = await tx.select({ sealed: patients.sealedDemographics }).from(patients).where(eq(patients.id, grant.patientId)).limit(1);
    return ok({
      justification: open<string>('break_glass_grants', 'sealed_justification', grant.id, grant.sealedJustification),
      mrn: patient ? (open<Demographics>('patients', 'sealed_demographics', grant.patientId, patient.sealed)?.mrn ?? null) : null,
    });
  },
});
