'use client';

import { useActionState } from 'react';
import { RevealReasonForm } from '@/components/admin/reveal-reason-form';
import { revealGrantAction, type RevealGrantState } from './actions';

/** Opening a grant's justification and the patient's MRN: the reason first, in a POST; the values come back only in its answer. */
export function RevealGrantForm({ grantId, reasons }: { grantId: string; reasons: Record<string, string> }) {
  const [result, action, pending] = useActionState(revealGrantAction, { sealed: null, message: null } as RevealGrantState);
  if (result.sealed) {
    return (
      <div className="space-y-2" data-testid="grant-sealed">
        <p className="text-sm">
          <span className="text-slate-500">MRN</span> <span className="font-mono" data-testid="grant-mrn">{result.sealed.mrn ?? 'unavailable'}</span>
        </p>
        {/* Rendered as text: React escapes it, so markup in a justification shows as characters and never runs. */}
        <blockquote className="whitespace-pre-wrap rounded-lg border-l-4 border-red-700 bg-white p-4 text-sm" data-testid="grant-justification">
          {result.sealed.justification ?? 'Unavailable (the patient’s key cannot be opened).'}
        </blockquote>
      </div>
    );
  }
  return (
    <RevealReasonForm action={action} pending={pending} message={result.message} reasons={reasons} hidden={{ grantId }} submitLabel="Show the justification and MRN" testId="grant-reveal-form">
      The clinician’s justification and the patient’s MRN are sealed with the patient’s key. Opening them is an access to
      the patient’s record: it is recorded with your reason, watched by the access monitor, and appears in the patient’s
      accounting of disclosures.
    </RevealReasonForm>
  );
}
