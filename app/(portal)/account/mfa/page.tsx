import { redirect } from 'next/navigation';
import { getViewerState, PASSWORD_CHANGE_PATH, requireViewer } from '@/lib/features/auth/current';
import { getMfaStatus } from '@/lib/features/auth/mfa-enrolment';
import { isFactorRecentlyVerified } from '@/lib/features/credentials/reauth';
import { MfaManager } from './mfa-manager';
import { ReauthForm } from './reauth-form';

export const dynamic = 'force-dynamic';

export default async function MfaPage() {
  const viewer = await requireViewer({ allowPendingMfa: true });
  const state = await getViewerState();
  // A one-time password is replaced before the second factor is set up.
  if (state.viewer && state.passwordChangePending) redirect(PASSWORD_CHANGE_PATH);
  const pending = Boolean(state.viewer && state.mfaEnrolmentPending);
  const [status, recent] = await Promise.all([getMfaStatus(viewer), isFactorRecentlyVerified(viewer)]);
  return (
    <div className="mx-auto max-w-xl space-y-4">
      <h1 className="text-xl font-semibold">Two-factor authentication</h1>
      {pending && (
        <p role="status" className="rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900">
          This account needs two-factor authentication. Set it up to continue.
        </p>
      )}
      <p className="text-sm text-slate-600">
        An authenticator app on your phone (any app that reads a QR code: Google Authenticator, Microsoft
        Authenticator, 1Password, FreeOTP…) gives a new 6-digit code every 30 seconds. Signing in then needs
        your password and that code.
      </p>
      {recent ? (
        <MfaManager enabled={status.enabled} required={status.required} recoveryCodesLeft={status.recoveryCodesLeft} continueTo={pending ? '/' : '/account'} />
      ) : (
        <ReauthForm totpEnabled={status.enabled} />
      )}
    </div>
  );
}
