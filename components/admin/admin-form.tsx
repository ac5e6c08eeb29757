'use client';

import { createContext, useActionState, useContext, useId, useState } from 'react';
import { emptyFormState, type AdminFormState } from './form-state';

type Action = (previous: AdminFormState, form: FormData) => Promise<AdminFormState>;

const FormStateContext = createContext<AdminFormState>(emptyFormState);

/**
 * A server-action form for the admin pages: the action's message at the bottom (an alert when it
 * refused), a message under each field it names, and the non-secret values kept after a refusal.
 * With `confirm`, the submit button stays hidden until the admin asks for it and sees the prompt.
 */
export function AdminForm({
  action,
  submitLabel,
  children,
  hidden = {},
  className = 'space-y-3',
  testId,
  tone = 'primary',
  confirm,
}: {
  action: Action;
  submitLabel: string;
  children?: React.ReactNode;
  hidden?: Record<string, string>;
  className?: string;
  testId?: string;
  /** primary for the main action of a panel, danger for removing access, quiet for row actions. */
  tone?: 'primary' | 'danger' | 'quiet';
  confirm?: { trigger: string; prompt: string };
}) {
  const [state, formAction, pending] = useActionState(action, emptyFormState);
  const [confirming, setConfirming] = useState(false);
  // A confirmed change that went through closes the confirmation (state adjusted during render).
  const [seen, setSeen] = useState(state.submittedAt);
  if (seen !== state.submittedAt) {
    setSeen(state.submittedAt);
    if (state.ok) setConfirming(false);
  }
  const button = buttonTones[tone];

  if (confirm && !confirming) {
    return (
      <div className={className} data-testid={testId}>
        <button type="button" onClick={() => setConfirming(true)} className={`rounded-md text-sm font-medium ${button}`}>
          {confirm.trigger}
        </button>
        <Message state={state} />
      </div>
    );
  }
  return (
    <FormStateContext.Provider value={state}>
      <form action={formAction} className={className} data-testid={testId}>
        {Object.entries(hidden).map(([name, value]) => (
          <input key={name} type="hidden" name={name} value={value} />
        ))}
        {confirm && <p className="rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-900">{confirm.prompt}</p>}
        {children}
        {state.fieldErrors.form && <p role="alert" className="text-sm text-red-700">{state.fieldErrors.form}</p>}
        <div className="flex items-center gap-3">
          <button type="submit" disabled={pending} className={`rounded-md text-sm font-medium disabled:opacity-60 ${button}`}>
            {pending ? 'Saving…' : submitLabel}
          </button>
          {confirm && (
            <button type="button" onClick={() => setConfirming(false)} className="rounded-md border border-slate-300 px-4 py-2 text-sm hover:bg-slate-100">
              Cancel
            </button>
          )}
        </div>
        <Message state={state} />
        {state.reveal && <Revealed key={state.submittedAt} reveal={state.reveal} />}
      </form>
    </FormStateContext.Provider>
  );
}

const buttonTones = {
  primary: 'px-4 py-2 bg-calm text-white hover:opacity-90',
  danger: 'px-4 py-2 bg-red-700 text-white hover:bg-red-800',
  quiet: 'px-3 py-1 border border-slate-300 text-slate-700 hover:bg-slate-100',
} as const;

function Message({ state }: { state: AdminFormState }) {
  if (!state.message) return null;
  return (
    <p key={state.submittedAt} role={state.ok ? 'status' : 'alert'} className={state.ok ? 'text-sm text-green-700' : 'text-sm text-red-700'}>
      {state.message}
    </p>
  );
}

/** A one-time secret, selected on focus for copying; gone once the page is left. */
function Revealed({ reveal }: { reveal: NonNullable<AdminFormState['reveal']> }) {
  const id = useId();
  return (
    <div className="rounded-md border border-amber-300 bg-amber-50 p-3 text-sm" data-testid="revealed-secret">
      <label htmlFor={id} className="block font-medium text-amber-950">{reveal.label}</label>
      <input id={id} readOnly value={reveal.value} onFocus={(e) => e.currentTarget.select()} spellCheck={false} autoComplete="off"
        className="mt-1 block w-full rounded border border-amber-300 bg-white px-2 py-1.5 font-mono text-xs text-ink" />
      <p className="mt-1 text-amber-900">{reveal.note}</p>
    </div>
  );
}

function useField(name: string) {
  const state = useContext(FormStateContext);
  const id = useId();
  const error = state.fieldErrors[name];
  const kept = state.values[name];
  return { id, error, kept, errorId: `${id}-error`, version: state.submittedAt };
}

function FieldError({ id, error }: { id: string; error?: string }) {
  return error ? <span id={id} className="mt-1 block text-xs text-red-700">{error}</span> : null;
}

const inputClass = (error?: string) =>
  `mt-1 block w-full rounded border px-2 py-1.5 text-sm text-ink ${error ? 'border-red-500' : 'border-slate-300'}`;

/** Label, hint and error are separate elements: the field's accessible name is its label alone. */
function FieldFrame({ id, label, hint, hintId, error, errorId, children }: {
  id: string; label: string; hint?: string; hintId: string; error?: string; errorId: string; children: React.ReactNode;
}) {
  return (
    <div>
      <label htmlFor={id} className="block text-sm font-medium text-slate-700">{label}</label>
      {hint && <p id={hintId} className="text-xs text-slate-500">{hint}</p>}
      {children}
      <FieldError id={errorId} error={error} />
    </div>
  );
}

const describedBy = (hint: string | undefined, hintId: string, error: string | undefined, errorId: string) =>
  [hint ? hintId : '', error ? errorId : ''].filter(Boolean).join(' ') || undefined;

export function TextField({
  label,
  name,
  hint,
  defaultValue,
  ...rest
}: { label: string; name: string; hint?: string; defaultValue?: string } & Omit<React.InputHTMLAttributes<HTMLInputElement>, 'name' | 'defaultValue'>) {
  const { id, error, kept, errorId, version } = useField(name);
  const hintId = `${id}-hint`;
  const isSecret = rest.type === 'password';
  return (
    <FieldFrame id={id} label={label} hint={hint} hintId={hintId} error={error} errorId={errorId}>
      <input
        key={version}
        id={id}
        name={name}
        defaultValue={isSecret ? undefined : typeof kept === 'string' ? kept : defaultValue}
        aria-invalid={Boolean(error)}
        aria-describedby={describedBy(hint, hintId, error, errorId)}
        className={inputClass(error)}
        {...rest}
      />
    </FieldFrame>
  );
}

export function TextArea({
  label,
  name,
  hint,
  defaultValue,
  rows = 4,
}: { label: string; name: string; hint?: string; defaultValue?: string; rows?: number }) {
  const { id, error, kept, errorId, version } = useField(name);
  const hintId = `${id}-hint`;
  return (
    <FieldFrame id={id} label={label} hint={hint} hintId={hintId} error={error} errorId={errorId}>
      <textarea
        key={version}
        id={id}
        name={name}
        rows={rows}
        spellCheck={false}
        defaultValue={typeof kept === 'string' ? kept : defaultValue}
        aria-invalid={Boolean(error)}
        aria-describedby={describedBy(hint, hintId, error, errorId)}
        className={`${inputClass(error)} font-mono`}
      />
    </FieldFrame>
  );
}

export function SelectField({
  label,
  name,
  options,
  placeholder,
  defaultValue,
}: {
  label: string;
  name: string;
  options: Array<{ value: string; label: string }>;
  placeholder?: string;
  defaultValue?: string;
}) {
  const { id, error, kept, errorId, version } = useField(name);
  return (
    <FieldFrame id={id} label={label} hintId={`${id}-hint`} error={error} errorId={errorId}>
      <select
        key={version}
        id={id}
        name={name}
        required
        defaultValue={typeof kept === 'string' ? kept : (defaultValue ?? '')}
        aria-invalid={Boolean(error)}
        aria-describedby={error ? errorId : undefined}
        className={inputClass(error)}
      >
        {placeholder && <option value="" disabled>{placeholder}</option>}
        {options.map((o) => (
          <option key={o.value} value={o.value}>{o.label}</option>
        ))}
      </select>
    </FieldFrame>
  );
}

export function CheckboxGroup({
  legend,
  name,
  options,
  defaultValues = [],
  disabled = false,
}: {
  legend: string;
  name: string;
  options: Array<{ value: string; label: string; description?: string }>;
  defaultValues?: string[];
  disabled?: boolean;
}) {
  const { error, kept, errorId, version } = useField(name);
  const checked = Array.isArray(kept) ? kept : defaultValues;
  return (
    <fieldset key={version} aria-describedby={error ? errorId : undefined} disabled={disabled}>
      <legend className="text-sm font-medium text-slate-700">{legend}</legend>
      <div className="mt-1 space-y-1">
        {options.map((o) => (
          <label key={o.value} className="flex items-start gap-2 text-sm">
            <input type="checkbox" name={name} value={o.value} defaultChecked={checked.includes(o.value)} className="mt-1" />
            <span>
              <span className="font-medium">{o.label}</span>
              {o.description && <span className="block text-xs text-slate-500">{o.description}</span>}
            </span>
          </label>
        ))}
      </div>
      <FieldError id={errorId} error={error} />
    </fieldset>
  );
}
