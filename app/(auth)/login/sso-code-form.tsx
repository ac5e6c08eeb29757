'use client';

import { useActionState } from 'react';
import { ssoCodeAction, type SsoCodeState } from './actions';

/** The hospital account checked out but asserted no second factor: the Vigil authenticator's code finishes the sign-in. */
export function SsoCodeForm({ prompt }: { prompt: string }) {
  const [state, action, pending] = useActionState(ssoCodeAction, { message: null } satisfies SsoCodeState);
  return (
    <form action={action} className="space-y-4" noValidate>
      <p role={state.message ? 'alert' : 'status'} className={state.message ? 'rounded-md bg-red-50 px-3 py-2 text-sm text-red-800' : 'rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900'}>
        {state.message ?? prompt}
      </p>
      <label className="block text-sm font-medium">
        Authentication code
        <input name="code" autoComplete="one-time-code" autoFocus maxLength={32}
          className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 tracking-widest" />
      </label>
      <button type="submit" disabled={pending}
        className="w-full rounded-md bg-calm px-4 py-2 font-medium text-white hover:opacity-90 disabled:opacity-60">
        {pending ? 'Checking…' : 'Finish signing in'}
      </button>
    </form>
  );
}
