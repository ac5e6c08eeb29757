'use client';

import { useActionState, useEffect, useRef } from 'react';

export interface FormState {
  ok: boolean;
  message: string | null;
  submittedAt: number;
}
type Action = (previous: FormState, form: FormData) => Promise<FormState>;

const initial: FormState = { ok: true, message: null, submittedAt: 0 };

/** A server-action form that shows the action's plain message and clears itself after success. */
export function ActionForm({
  action,
  hidden,
  submitLabel,
  children,
  className = 'space-y-2',
  testId,
}: {
  action: Action;
  hidden: Record<string, string | number>;
  submitLabel: string;
  children?: React.ReactNode;
  className?: string;
  testId?: string;
}) {
  const [state, formAction, pending] = useActionState(action, initial);
  const ref = useRef<HTMLFormElement>(null);
  useEffect(() => {
    if (state.ok && state.submittedAt) ref.current?.reset();
  }, [state]);
  return (
    <form ref={ref} action={formAction} className={className} data-testid={testId}>
      {Object.entries(hidden).map(([name, value]) => (
        <input key={name} type="hidden" name={name} value={value} />
      ))}
      {children}
      <div className="flex items-center gap-3">
        <button type="submit" disabled={pending} className="rounded-md bg-calm px-3 py-1 text-sm text-white disabled:opacity-60">
          {pending ? 'Saving…' : submitLabel}
        </button>
        {state.message && (
          <span role={state.ok ? 'status' : 'alert'} className={state.ok ? 'text-sm text-green-700' : 'text-sm text-red-700'}>
            {state.message}
          </span>
        )}
      </div>
    </form>
  );
}

export function Field({ label, name, type = 'text', required = true, maxLength = 200, ...rest }: {
  label: string;
  name: string;
  type?: string;
  required?: boolean;
  maxLength?: number;
} & React.InputHTMLAttributes<HTMLInputElement>) {
  return (
    <label className="block text-xs font-medium text-slate-600">
      {label}
      <input name={name} type={type} required={required} maxLength={maxLength} {...rest}
        className="mt-1 block w-full rounded border border-slate-300 px-2 py-1 text-sm text-ink" />
    </label>
  );
}
