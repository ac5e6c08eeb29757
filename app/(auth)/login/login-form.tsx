'use client';

import { startTransition, useActionState } from 'react';
import { signInAction, type LoginState } from './actions';

const initial: LoginState = { message: null, needsCode: false, email: '', attempt: 0, passwordResets: 0 };

export function LoginForm({ notice }: { notice: string | null }) {
  const [state, action, pending] = useActionState(signInAction, initial);
  // Submitting through a transition of our own keeps React from resetting the form, so the
  // password survives into the code step. The keys empty the code field after every answer and
  // the password after a refusal outside the code step (new keys remount the inputs, in the same
  // render as the message). Without JavaScript the form still posts to the server action.
  const submit = (event: React.FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    startTransition(() => action(data));
  };
  return (
    <form action={action} onSubmit={submit} className="space-y-4" noValidate>
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
        <input key={`password-${state.passwordResets}`} name="password" type="password" autoComplete="current-password"
          className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2" />
      </label>
      {state.needsCode && (
        <div>
          <label className="block text-sm font-medium">
            Authentication code
            <input key={`code-${state.attempt}`} name="code" autoComplete="one-time-code" autoFocus aria-describedby="code-hint" maxLength={32}
              className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 tracking-widest" />
          </label>
          <p id="code-hint" className="mt-1 text-xs text-slate-500">
            The 6-digit code from your authenticator app. Lost your phone? Enter one of your recovery codes instead.
          </p>
        </div>
      )}
      <button type="submit" disabled={pending}
        className="w-full rounded-md bg-calm px-4 py-2 font-medium text-white hover:opacity-90 disabled:opacity-60">
        {pending ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  );
}
