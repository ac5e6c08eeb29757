import { getViewerState, requireViewer } from '@/lib/features/auth/current';
import { PASSWORD_MIN_LENGTH } from '@/lib/features/credentials/passwords';
import { PasswordForm } from './password-form';

export const dynamic = 'force-dynamic';

export default async function PasswordPage() {
  await requireViewer({ allowPendingPassword: true });
  const state = await getViewerState();
  const pending = Boolean(state.viewer && state.passwordChangePending);
  return (
    <div className="mx-auto max-w-xl space-y-4">
      <h1 className="text-xl font-semibold">Change your password</h1>
      {pending && (
        <p role="status" className="rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900">
          You signed in with a one-time password. Choose your own to continue.
        </p>
      )}
      <PasswordForm minLength={PASSWORD_MIN_LENGTH} />
    </div>
  );
}
