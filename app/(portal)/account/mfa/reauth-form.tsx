'use client';

import { useActionState } from 'react';
import { reauthenticateAction, type MfaFormState } from '../actions';

/** Step-up before any change to the second factor. */
export function ReauthForm({ totpEnabled }: { totpEnabled: boolean }) {
  const [state, action, pending] = useActionState(reauthenticateAction, { message: null } as MfaFormState);
  return (
    <form action={action} className="space-y-3 rounded-lg border border-slate-200 bg-white p-4">
      <h2 className="text-base font-semibold text-calm">Confirm it is you</h2>
      <p className="text-sm text-slate-600">
        Changing how you sign in needs your password{totpEnabled ? ' or a current code from your authenticator app' : ''} again.
      </p>
      {state.message && <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800">{state.message}</p>}
      <label className="block text-sm font-medium">
        {totpEnabled ? 'Password or code' : 'Password'}
        <input name="secret" type="password" autoComplete="current-password" required maxLength={1024}
          className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2" />
      </label>
      <button type="submit" disabled={pending} className="rounded-md bg-calm px-4 py-2 text-sm font-medium text-white disabled:opacity-60">
        {pending ? 'Checking…' : 'Confirm'}
      </button>
    </form>
  );
}
