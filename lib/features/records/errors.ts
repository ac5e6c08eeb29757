import 'server-only';
import { fail, type Refusal } from '@/lib/domain/result';

/** What record operations answer when they refuse: plain, PHI-free messages a page shows as they are. */
export const messages = {
  denied: 'You do not have access to make this change.',
  conflict: 'Someone else changed this record while you were editing. Reload to see their change, then try again.',
  not_found: 'That record does not exist for this patient.',
  unavailable: 'This record is unavailable and cannot be changed.',
} as const;

/** A form that does not have the shape of any chart form (tampered with, or from an old page). */
export const unreadableForm = 'This form could not be read. Reload the page and try again.';

export type RecordFailure = keyof typeof messages | 'invalid';

export function failure<E extends keyof typeof messages>(error: E): Refusal<E> {
  return fail(error, messages[error]);
}
