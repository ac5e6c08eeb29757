'use server';

import { guardedAction } from '@/lib/features/auth/entry';
import { revealAuditState, type RevealedState } from '@/lib/features/audit-review/entry';

export interface RevealFormState {
  state: RevealedState | null;
  message: string | null;
}

/** "Show the recorded values": a POST with the stated reason; lib/features/audit-review decides and records it. */
export const revealAction = guardedAction(
  revealAuditState,
  (_viewer, _previous: RevealFormState, form: FormData) => ({ seq: form.get('seq'), reason: form.get('reason') || undefined }),
  (result): RevealFormState => (result.ok ? { state: result.value, message: null } : { state: null, message: result.message }),
);
