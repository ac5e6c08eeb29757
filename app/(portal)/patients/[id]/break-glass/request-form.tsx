'use client';

import { useActionState, useState } from 'react';
import { initialRequestState } from '@/components/break-glass/request-state';
import { requestBreakGlassAction } from './actions';

const fieldClass = 'mt-1 block w-full rounded border px-2 py-1 text-sm text-ink';
const borderFor = (error?: string) => (error ? 'border-red-600' : 'border-slate-300');

/**
 * The justification prompt. Checks happen on the server (lib/features/break-glass), which answers with
 * plain messages per field; the form is re-mounted after each answer so it shows what was
 * entered, except the password.
 */
export function BreakGlassRequestForm({ patientId, reasons, minLength, maxLength }: {
  patientId: string;
  reasons: Array<{ code: string; label: string }>;
  minLength: number;
  maxLength: number;
}) {
  const [state, action, pending] = useActionState(requestBreakGlassAction, initialRequestState);
  return (
    <form key={state.submittedAt} action={action} className="space-y-4" data-testid="break-glass-form" noValidate>
      <input type="hidden" name="patientId" value={patientId} />
      {state.message && (
        <p role="alert" className="rounded-md border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-900" data-testid="break-glass-error">
          {state.message}
        </p>
      )}
      <label className="block text-sm font-medium text-slate-700">
        Reason
        <select name="reasonCode" defaultValue={state.values.reasonCode} aria-invalid={Boolean(state.fieldErrors.reasonCode)}
          className={`${fieldClass} ${borderFor(state.fieldErrors.reasonCode)}`}>
          <option value="" disabled>Choose a reason…</option>
          {reasons.map((r) => <option key={r.code} value={r.code}>{r.label}</option>)}
        </select>
        {state.fieldErrors.reasonCode && <span className="mt-1 block text-xs text-red-700">{state.fieldErrors.reasonCode}</span>}
      </label>
      <Justification defaultValue={state.values.justification} error={state.fieldErrors.justification} minLength={minLength} maxLength={maxLength} />
      <label className="block text-sm font-medium text-slate-700">
        Password or authentication code
        <input name="secret" type="password" autoComplete="current-password" aria-invalid={Boolean(state.fieldErrors.secret)}
          className={`${fieldClass} ${borderFor(state.fieldErrors.secret)}`} />
        <span className="mt-1 block text-xs text-slate-500">Confirms it is you at this workstation.</span>
        {state.fieldErrors.secret && <span className="mt-1 block text-xs text-red-700">{state.fieldErrors.secret}</span>}
      </label>
      <button type="submit" disabled={pending} className="rounded-md bg-red-700 px-4 py-2 text-sm font-medium text-white hover:bg-red-800 disabled:opacity-60">
        {pending ? 'Checking…' : 'Open chart with emergency access'}
      </button>
    </form>
  );
}

function Justification({ defaultValue, error, minLength, maxLength }: { defaultValue: string; error?: string; minLength: number; maxLength: number }) {
  const [length, setLength] = useState(defaultValue.trim().length);
  return (
    <label className="block text-sm font-medium text-slate-700">
      Justification
      <textarea name="justification" rows={4} defaultValue={defaultValue} aria-invalid={Boolean(error)}
        onChange={(e) => setLength(e.currentTarget.value.trim().length)}
        className={`${fieldClass} ${borderFor(error)}`} />
      <span className="mt-1 flex justify-between text-xs text-slate-500">
        <span>Say why you need this chart now, in your own words. Plain text only.</span>
        <span aria-live="polite" className={length > maxLength ? 'text-red-700' : undefined}>{length} / {maxLength} (at least {minLength})</span>
      </span>
      {error && <span className="mt-1 block text-xs text-red-700" data-testid="justification-error">{error}</span>}
    </label>
  );
}
