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
export { requestGrant, grantMessages, type Grant, type GrantError, type GrantField } from '@/lib/features/break-glass/request';
export { getBreakGlassPrompt, promptMessages, type BreakGlassPrompt, type PatientIdentity, type PromptError } from '@/lib/features/break-glass/identity';
export {
  reviewMessages,
  reviewVerdicts,
  verdictLabels,
  type GrantState,
  type ReviewQueueItem,
  type ReviewVerdict,
  type StaffRef,
} from '@/lib/features/break-glass/review-rows';
export { listRefusedRequests, listReviewQueue, type RefusedRequest } from '@/lib/features/break-glass/review-queue';
export { getGrantReview, revealGrantSealed, type GrantActivity, type GrantReview, type GrantSealed } from '@/lib/features/break-glass/grant-review';
export { reviewGrant, type ReviewRecorded } from '@/lib/features/break-glass/verdict';
export { openReviewComment, sealReviewComment, type ReviewComment } from '@/lib/features/break-glass/review-comment';
export { getBreakGlassWindow, getWindowMinutes, setWindowMinutes, windowBounds, WINDOW_SETTING } from '@/lib/features/break-glass/settings';
export { flagRepeatedUse, repeatedUseRule } from '@/lib/features/break-glass/incident';
