/** Times on the review pages: minute precision, always UTC, so every reviewer reads the same. */
export function formatTime(iso: string | null): string {
  return iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : '—';
}

export const stateLabels: Record<string, string> = {
  active: 'Active',
  expired: 'Expired',
  ended: 'Ended early',
  tampered: 'Unknown: record altered outside Vigil',
};

export const endedReasonLabels: Record<string, string> = {
  sign_out: 'signed out',
  idle_timeout: 'session timed out',
  expired: 'session expired',
  user_disabled: 'account disabled',
  incident: 'account contained by monitoring',
};

export const refusalLabels: Record<string, string> = {
  not_permitted: 'Role may not use emergency access',
  not_found: 'Unknown patient',
  has_access: 'Already on the care team',
  already_active: 'Grant already active',
  invalid: 'Reason or justification refused',
  reauth_failed: 'Wrong password or code',
  too_many_attempts: 'Too many wrong passwords or codes',
  unavailable: 'Record unavailable',
};
