import type { z } from 'zod';

/**
 * The one outcome type of every operation a user can ask for (lib/pipeline): a value, or a
 * refusal with a plain, PHI-free message a page shows as it is. `error` is a code tests and the
 * audit trail tell apart; each feature narrows it to the codes it can answer.
 */
export type Failure =
  | 'denied'
  | 'invalid'
  | 'not_found'
  | 'conflict'
  | 'duplicate'
  | 'unavailable'
  | 'self_change'
  | 'reauth_required'
  | 'reauth_failed'
  | 'last_admin'
  | 'already_reviewed'
  | 'already_resolved'
  | 'own_grant'
  | 'own_case'
  | 'key_unavailable';

export type Result<T = undefined, E extends string = Failure> =
  | { ok: true; value: T; message?: string }
  | { ok: false; error: E; message: string; fieldErrors?: Record<string, string> };

export type Refusal<E extends string = Failure> = Extract<Result<never, E>, { ok: false }>;

export function ok<T>(value: T, message?: string): Result<T, never> {
  return message === undefined ? { ok: true, value } : { ok: true, value, message };
}

export function fail<E extends string>(error: E, message: string, fieldErrors?: Record<string, string>): Refusal<E> {
  return fieldErrors ? { ok: false, error, message, fieldErrors } : { ok: false, error, message };
}

/** A field's first problem, by field name, from a zod error (zod messages never echo the value). */
export function fieldErrorsOf(error: z.ZodError): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const issue of error.issues) {
    const field = String(issue.path[0] ?? 'form');
    errors[field] ??= issue.message;
  }
  return errors;
}
