import 'server-only';

export {
  breakGlassReasons,
  justificationMessages,
  justificationProblem,
  reasonLabels,
  JUSTIFICATION_MAX,
  JUSTIFICATION_MIN,
  type BreakGlassReason,
} from '@/lib/domain/break-glass/justification';
export { requestGrant, grantMessages, type GrantError, type GrantField, type GrantResult } from '@/lib/features/break-glass/request';
export { getBreakGlassPrompt, type BreakGlassPrompt, type PatientIdentity } from '@/lib/features/break-glass/identity';
export {
  getGrantReview,
  listRefusedRequests,
  listReviewQueue,
  reviewGrant,
  reviewVerdicts,
  verdictLabels,
  type GrantActivity,
  type GrantReview,
  type RefusedRequest,
  type ReviewQueueItem,
  type ReviewRecorded,
  type ReviewVerdict,
} from '@/lib/features/break-glass/review';
export { openReviewComment, sealReviewComment, type ReviewComment } from '@/lib/features/break-glass/review-comment';
export { getBreakGlassWindow, getWindowMinutes, setWindowMinutes, windowBounds, WINDOW_SETTING } from '@/lib/features/break-glass/settings';
export { endSessionGrants } from '@/lib/features/break-glass/end';
export { flagRepeatedUse, repeatedUseRule } from '@/lib/features/break-glass/incident';
