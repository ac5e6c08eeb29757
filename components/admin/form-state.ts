import type { Result } from '@/lib/domain/result';

/**
 * What an admin form shows after its server action: the action's plain message, a message per
 * field, and the non-secret values to put back so a refused form is not retyped. Shared by the
 * server actions (which build it) and AdminForm (which renders it).
 */
export interface AdminFormState {
  ok: boolean;
  message: string | null;
  fieldErrors: Record<string, string>;
  values: Record<string, string | string[]>;
  /** Changes on every submit, so a repeated identical message is still announced. */
  submittedAt: number;
  /** A secret to show once (e.g. a new API credential): it lives only in this response. */
  reveal?: { label: string; value: string; note: string };
}

export const emptyFormState: AdminFormState = { ok: true, message: null, fieldErrors: {}, values: {}, submittedAt: 0 };

/** The Result of an admin operation as form state; secrets (any field named *password*) are never echoed. */
export function formStateOf(result: Result<unknown, string>, form?: FormData): AdminFormState {
  const values: Record<string, string | string[]> = {};
  if (form && !result.ok) {
    for (const key of new Set(form.keys())) {
      if (/password/i.test(key) || key.startsWith('$')) continue;
      const all = form.getAll(key).filter((v): v is string => typeof v === 'string');
      values[key] = all.length > 1 || key === 'roles' ? all : (all[0] ?? '');
    }
  }
  return {
    ok: result.ok,
    message: result.message ?? null,
    fieldErrors: result.ok ? {} : (result.fieldErrors ?? {}),
    values,
    submittedAt: Date.now(),
  };
}

/** A form field as a string, or undefined when absent or a file (lib/features/admin validates the rest). */
export function formText(form: FormData, name: string): string | undefined {
  const value = form.get(name);
  return typeof value === 'string' ? value : undefined;
}
