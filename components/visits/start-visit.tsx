'use client';

import { useActionState, useEffect } from 'react';
import type { FormState } from '@/components/chart/action-form';

export type StartState = FormState & { visitPath?: string };

/**
 * "Start video visit". The visit screen opens with a full page load, not a client-side
 * navigation: the browser applies the Permissions-Policy of the document it loaded, and only the
 * visit screen's allows the camera and microphone (proxy.ts).
 */
export function StartVisit({ patientId, start }: { patientId: string; start: (previous: StartState, form: FormData) => Promise<StartState> }) {
  const [state, action, pending] = useActionState(start, { ok: true, message: null, submittedAt: 0 });
  useEffect(() => {
    if (state.ok && state.visitPath) window.location.assign(state.visitPath);
  }, [state]);
  return (
    <form action={action} className="flex items-center gap-2" data-testid="start-visit">
      <input type="hidden" name="patientId" value={patientId} />
      {!state.ok && state.message && <p role="alert" className="text-sm text-red-800">{state.message}</p>}
      <button type="submit" disabled={pending || Boolean(state.visitPath)} className="rounded-md bg-calm px-3 py-1.5 text-sm font-medium text-white disabled:opacity-50">Start video visit</button>
    </form>
  );
}
