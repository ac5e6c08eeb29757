import 'server-only';
import { and, eq } from 'drizzle-orm';
import { z } from 'zod';
import { breakGlassGrants } from '@/db/schema';
import { auditActions } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { sealReviewComment } from '@/lib/features/break-glass/review-comment';
import { grantTarget, reviewMessages, reviewPermission, reviewVerdicts, type ReviewVerdict } from '@/lib/features/break-glass/review-rows';
import { operation } from '@/lib/pipeline/operation';
import { getPatientCipher } from '@/lib/platform/crypto';
import { intactRow, updateWithMac } from '@/lib/platform/integrity';

const reviewSchema = z.object({
  grantId: z.uuid(),
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

/** The form's own problems first; a malformed grant id alone is a link to no grant. */
function invalidVerdict(error: z.ZodError) {
  const issue = error.issues.find((i) => i.path[0] !== 'grantId') ?? error.issues[0];
  if (issue?.path[0] === 'grantId') return fail('not_found', reviewMessages.not_found);
  return fail('invalid', issue?.message ?? 'Check the form and try again.');
}

type VerdictRefusal = 'not_found' | 'already_reviewed' | 'own_grant' | 'tampered' | 'key_unavailable';

/**
 * A verdict with a comment, once per grant, never on one's own grant; audited either way. The
 * comment is sealed with the patient's data key; the audit entry records only its length.
 */
export const reviewGrant = operation({
  name: 'break-glass.verdict',
  action: auditActions.breakGlass.review,
  resourceType: 'break_glass_grant',
  permission: reviewPermission,
  deniedMessage: reviewMessages.denied,
  target: grantTarget,
  input: reviewSchema,
  invalid: invalidVerdict,
  authorize: async ({ tx, viewer, input }) => {
    const [grant] = await tx.select().from(breakGlassGrants).where(eq(breakGlassGrants.id, input.grantId)).limit(1);
    const refuse = (reason: Exclude<VerdictRefusal, 'key_unavailable'>) => ({
      allowed: false as const,
      reason,
      patientId: grant?.patientId ?? null,
      details: { verdict: input.verdict },
      answer: fail(reason, reviewMessages[reason]),
    });
    if (!grant) return refuse('not_found');
    // Checked first: a "reviewed" mark written by SQL must not pass for a verdict, nor a forged
    // user or status decide who may review. The grant keeps its bad MAC, so the case stays open.
    if (!(await intactRow(tx, 'break_glass_grants', grant))) return refuse('tampered');
    if (grant.userId === viewer.userId) return refuse('own_grant');
    if (grant.reviewStatus !== 'pending') return refuse('already_reviewed');
    return { allowed: true, facts: grant };
  },
  run: async ({ tx, viewer, input, facts: grant, at, audit, auditRefusal }): Promise<Result<ReviewRecorded, VerdictRefusal>> => {
    const { grantId, verdict, comment } = input;
    const refuse = async (reason: 'already_reviewed' | 'key_unavailable') => {
      await auditRefusal(reason, { patientId: grant.patientId, details: { verdict } });
      return fail(reason, reviewMessages[reason]);
    };
    const { cipher, unwrapped, unavailable } = await getPatientCipher(tx, grant.patientId);
    if (unavailable) return refuse('key_unavailable');
    const updated = await updateWithMac(tx, 'break_glass_grants', and(eq(breakGlassGrants.id, grantId), eq(breakGlassGrants.reviewStatus, 'pending')), {
      reviewStatus: verdict,
      reviewerId: viewer.userId,
      sealedReviewComment: cipher ? sealReviewComment(cipher, grantId, comment) : null,
      reviewedAt: at,
    });
    // Another privacy officer's verdict landed between the check and this write.
    if (updated.length === 0) return refuse('already_reviewed');
    await audit({
      resourceId: grantId,
      patientId: grant.patientId,
      details: { verdict, reasonCode: grant.reasonCode, commentLength: comment.length, commentKept: Boolean(cipher), keyUnwrapped: unwrapped },
    });
    return ok({ grantId, verdict, commentKept: Boolean(cipher) });
  },
});
