'use client';

import { useActionState } from 'react';
import { verifyNowAction, type VerifyState } from './actions';

const initial: VerifyState = { state: 'idle', message: null };

export function VerifyNow() {
  const [result, action, pending] = useActionState(verifyNowAction, initial);
  return (
    <form action={action} className="space-y-2">
      <button type="submit" disabled={pending} className="rounded-md border border-calm px-3 py-1 text-sm text-calm hover:bg-calm-light disabled:opacity-60">
        {pending ? 'Verifying the whole chain…' : 'Verify now'}
      </button>
      {result.message && (
        <p role={result.state === 'ok' ? 'status' : 'alert'} data-testid="verify-result"
          className={`break-all text-sm ${result.state === 'ok' ? 'text-green-700' : 'text-red-700'}`}>
          {result.message}
        </p>
      )}
    </form>
  );
}
