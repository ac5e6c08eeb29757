'use client';

import { useActionState } from 'react';
import { RevealReasonForm } from '@/components/admin/reveal-reason-form';
import { revealAction, type RevealFormState } from './actions';

/**
 * Opening the sealed values of an entry: the reason first, sent as a POST (never a link or a GET
 * form, which another site could make the browser follow); the values come back only in the
 * answer to that request.
 */
export function RevealForm({ seq, reasons }: { seq: number; reasons: Record<string, string> }) {
  const [result, action, pending] = useActionState(revealAction, { state: null, message: null } as RevealFormState);
  if (result.state) return <RecordedValues state={result.state} />;
  return (
    <RevealReasonForm action={action} pending={pending} message={result.message} reasons={reasons} hidden={{ seq }} submitLabel="Show the recorded values">
      This entry holds the values before and after the change, sealed with the patient’s key. Opening them is an access
      to the patient’s record: it is recorded with your reason, watched by the access monitor, and appears in the
      patient’s accounting of disclosures.
    </RevealReasonForm>
  );
}

type Revealed = NonNullable<RevealFormState['state']>;

function RecordedValues({ state }: { state: Revealed }) {
  if (state.status !== 'ok') {
    const text = { erased: 'The patient’s data has been erased: the recorded values can no longer be opened.', unavailable: 'The recorded values cannot be opened.', none: 'No values were recorded.' }[state.status];
    return <p className="rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900">{text}</p>;
  }
  const show = (value: unknown) => (value === undefined ? '—' : typeof value === 'string' ? value : JSON.stringify(value));
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-4" data-testid="recorded-values">
      <h2 className="mb-2 text-base font-semibold">Recorded values</h2>
      <table className="w-full text-sm">
        <thead className="text-left text-slate-500"><tr><th className="py-1 pr-3 font-medium">Field</th><th className="py-1 pr-3 font-medium">Before</th><th className="py-1 font-medium">After</th></tr></thead>
        <tbody>
          {state.changes.map((c) => (
            <tr key={c.field} className="border-t border-slate-100 align-top">
              <td className="py-1 pr-3 font-mono text-xs">{c.field}</td>
              <td className="py-1 pr-3">{show(c.before)}</td>
              <td className="py-1">{show(c.after)}</td>
            </tr>
          ))}
          {state.changes.length === 0 && <tr><td colSpan={3} className="py-2 text-slate-500">No field changed.</td></tr>}
        </tbody>
      </table>
    </section>
  );
}
