'use server';

import type { StartState } from '@/components/visits/start-visit';
import { guardedAction } from '@/lib/features/auth/entry';
import { endVisit, issueJoinLink, revokeJoinLinks, startVisit } from '@/lib/features/visits';

/** Starts a video visit from the chart; the form opens its screen with a full page load. */
export const startVisitAction = guardedAction(
  startVisit,
  (_viewer, _previous: StartState, form: FormData) => ({ patientId: String(form.get('patientId') ?? '') }),
  (result, _previous, form): StartState =>
    result.ok
      ? { ok: true, message: null, submittedAt: Date.now(), visitPath: `/patients/${String(form.get('patientId'))}/visits/${result.value.visitId}` }
      : { ok: false, message: result.message, submittedAt: Date.now() },
);

export const issueJoinLinkAction = guardedAction(
  issueJoinLink,
  (_viewer, visitId: string) => ({ visitId }),
  (result) => (result.ok ? { ok: true, message: '', ...result.value } : { ok: false, message: result.message }),
);

export const revokeJoinLinksAction = guardedAction(
  revokeJoinLinks,
  (_viewer, visitId: string) => ({ visitId }),
  (result) => (result.ok ? { ok: true, message: 'The link was withdrawn; it no longer opens the visit.' } : { ok: false, message: result.message }),
);

export const endVisitAction = guardedAction(
  endVisit,
  (_viewer, visitId: string) => ({ visitId }),
  (result) => (result.ok ? { ok: true, message: 'The visit has ended.' } : { ok: false, message: result.message }),
);
