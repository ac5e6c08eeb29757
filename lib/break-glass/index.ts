import 'server-only';

export {
  breakGlassReasons,
  justificationMessages,
  justificationProblem,
  reasonLabels,
  JUSTIFICATION_MAX,
  JUSTIFICATION_MIN,
  type BreakGlassReason,
} from './justification';
export { requestGrant, grantMessages, type GrantError, type GrantField, type GrantResult } from './request';
export { getBreakGlassPrompt, type BreakGlassPrompt, type PatientIdentity } from './identity';
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
} from './review';
export { openReviewComment, sealReviewComment, type ReviewComment } from './review-comment';
export { getBreakGlassWindow, getWindowMinutes, setWindowMinutes, windowBounds, WINDOW_SETTING } from './settings';
export { endSessionGrants } from './end';
export { flagRepeatedUse, repeatedUseRule } from './incident';
