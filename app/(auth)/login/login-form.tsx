'use client';

import { useActionState } from 'react';
import { signInAction, type LoginState } from './actions';

const initial: LoginState = { message: null, needsCode: false, email: '' };

export function LoginForm({ notice }: { notice: string | null }) {
  const [state, action, pending] = useActionState(signInAction, initial);
  return (
    <form action={action} className="space-y-4" noValidate>
      {notice && !state.message && (
        <p role="status" className="rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900">
          {notice}
        </p>
      )}
      {state.message && (
        <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800">
          {state.message}
        </p>
      )}
      <label className="block text-sm font-medium">
        Email
        <input name="email" type="email" autoComplete="username" defaultValue={state.email} maxLength={10_000}
          className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2" />
      </label>
      <label className="block text-sm font-medium">
        Password
        <input name="password" type="password" autoComplete="current-password"
          className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2" />
      </label>
      {state.needsCode && (
        <label className="block text-sm font-medium">
          Authentication code
          <input name="code" inputMode="numeric" autoComplete="one-time-code" autoFocus
            className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 tracking-widest" />
        </label>
      )}
      <button type="submit" disabled={pending}
        className="w-full rounded-md bg-calm px-4 py-2 font-medium text-white hover:opacity-90 disabled:opacity-60">
        {pending ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  );
}
