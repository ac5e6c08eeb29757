import { ssoSignInAction } from './actions';

/** The hospital identity provider's button: a form, so the start of the flow is a POST (no login CSRF by link). */
export function SsoSignIn({ label, primary }: { label: string; primary: boolean }) {
  return (
    <form action={ssoSignInAction}>
      <button
        type="submit"
        className={
          primary
            ? 'w-full rounded-md bg-calm px-4 py-2 font-medium text-white hover:opacity-90'
            : 'w-full rounded-md border border-calm px-4 py-2 font-medium text-calm hover:bg-slate-50'
        }
      >
        Sign in with {label}
      </button>
    </form>
  );
}
