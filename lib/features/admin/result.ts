import 'server-only';
import type { z } from 'zod';

/**
 * Outcomes of administrative changes, with plain messages an admin page shows as they are.
 * Refusals under the self-escalation rule (lib/domain/access/admin-rules.ts) have their own codes so
 * tests and the audit trail can tell them apart.
 */
export type AdminError =
  | 'denied'
  | 'invalid'
  | 'not_found'
  | 'conflict'
  | 'duplicate'
  | 'self_change'
  | 'reauth_required'
  | 'reauth_failed'
  | 'last_admin';

export type AdminResult<T = undefined> =
  | { ok: true; value: T; message: string }
  | { ok: false; error: AdminError; message: string; fieldErrors?: Record<string, string> };

export const adminMessages: Record<Exclude<AdminError, 'invalid' | 'duplicate'>, string> = {
  denied: 'You do not have permission to do this.',
  not_found: 'That account, role or assignment no longer exists. Reload the page.',
  conflict: 'Someone else changed this while you were editing. Reload to see their change, then try again.',
  self_change: 'You cannot change your own account here. Ask another administrator.',
  reauth_required: 'Enter your password to confirm this change.',
  reauth_failed: 'That password is not correct.',
  last_admin: 'This would leave no active administrator. Give another account the admin role first.',
};

/** The refusals written to the audit trail as denied actions. */
export const auditedRefusals: ReadonlySet<AdminError> = new Set(['denied', 'self_change', 'reauth_required', 'reauth_failed', 'last_admin']);

export function refuse(error: keyof typeof adminMessages): AdminResult<never> {
  return { ok: false, error, message: adminMessages[error] };
}

export function done<T>(value: T, message: string): AdminResult<T> {
  return { ok: true, value, message };
}

export function invalidInput(fieldErrors: Record<string, string>, message = 'Check the highlighted fields.'): AdminResult<never> {
  return { ok: false, error: 'invalid', message, fieldErrors };
}

/** A field's first problem, by field name, from a zod error (messages never echo the value). */
export function fieldErrorsOf(error: z.ZodError): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const issue of error.issues) {
    const field = String(issue.path[0] ?? 'form');
    errors[field] ??= issue.message;
  }
  return errors;
}
