'use client';

import { useActionState } from 'react';
import { confirmFactorAction, type MfaFormState } from '../actions';

/** Step-up before any change to the second factor: the factor itself once there is one, else the password. */
export function ReauthForm({ totpEnabled }: { totpEnabled: boolean }) {
  const [state, action, pending] = useActionState(confirmFactorAction, { message: null } as MfaFormState);
  return (
    <form action={action} className="space-y-3 rounded-lg border border-slate-200 bg-white p-4">
      <h2 className="text-base font-semibold text-calm">Confirm it is you</h2>
      <p className="text-sm text-slate-600">
        {totpEnabled
          ? 'Changing how you sign in needs a current code from your authenticator app, or one of your recovery codes if you lost it. Your password alone is not enough.'
          : 'Changing how you sign in needs your password again.'}
      </p>
      {state.message && <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800">{state.message}</p>}
      <label className="block text-sm font-medium">
        {totpEnabled ? 'Code or recovery code' : 'Password'}
        <input name="secret" type={totpEnabled ? 'text' : 'password'} autoComplete={totpEnabled ? 'one-time-code' : 'current-password'} required maxLength={1024}
          className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2" />
      </label>
      <button type="submit" disabled={pending} className="rounded-md bg-calm px-4 py-2 text-sm font-medium text-white disabled:opacity-60">
        {pending ? 'Checking…' : 'Confirm'}
      </button>
    </form>
  );
}
