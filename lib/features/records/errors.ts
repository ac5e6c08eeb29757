import 'server-only';

/** Results of record operations: plain, PHI-free messages a page can show as they are. */
export type WriteResult<T = undefined> =
  | { ok: true; value: T }
  | { ok: false; error: 'denied' | 'conflict' | 'invalid' | 'not_found' | 'unavailable'; message: string };

export const messages = {
  denied: 'You do not have access to make this change.',
  conflict: 'Someone else changed this record while you were editing. Reload to see their change, then try again.',
  not_found: 'That record does not exist for this patient.',
  unavailable: 'This record is unavailable and cannot be changed.',
} as const;

export function failure(error: keyof typeof messages): WriteResult<never> {
  return { ok: false, error, message: messages[error] };
}

export function invalid(message: string): WriteResult<never> {
  return { ok: false, error: 'invalid', message };
}
