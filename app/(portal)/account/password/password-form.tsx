'use client';

import { useActionState } from 'react';
import { changePasswordAction, type PasswordFormState } from './actions';

const field = 'mt-1 block w-full rounded-md border border-slate-300 px-3 py-2';

/** The current password and the new one twice; the server checks everything again. */
export function PasswordForm({ minLength }: { minLength: number }) {
  const [state, action, pending] = useActionState(changePasswordAction, { message: null } as PasswordFormState);
  return (
    <form action={action} className="space-y-3 rounded-lg border border-slate-200 bg-white p-4">
      {state.message && <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800">{state.message}</p>}
      <label className="block text-sm font-medium">
        Current password
        <input name="current" type="password" autoComplete="current-password" required maxLength={256} className={field} />
      </label>
      <label className="block text-sm font-medium">
        New password <span className="font-normal text-slate-500">(at least {minLength} characters)</span>
        <input name="password" type="password" autoComplete="new-password" required minLength={minLength} maxLength={256} className={field} />
      </label>
      <label className="block text-sm font-medium">
        New password again
        <input name="passwordConfirm" type="password" autoComplete="new-password" required minLength={minLength} maxLength={256} className={field} />
      </label>
      <button type="submit" disabled={pending} className="rounded-md bg-calm px-4 py-2 text-sm font-medium text-white disabled:opacity-60">
        {pending ? 'Saving…' : 'Change password'}
      </button>
    </form>
  );
}
