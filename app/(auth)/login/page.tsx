import { redirect } from 'next/navigation';
import type { LeaveReason } from '@/components/session/session-channel';
import { sessionPolicy } from '@/lib/features/credentials/config';
import { getViewerState, homeFor, MFA_ENROLMENT_PATH } from '@/lib/features/auth/current';
import { LoginForm } from './login-form';
import { SignedOutBroadcast } from './signed-out-broadcast';

const idleMinutes = Math.round(sessionPolicy.idleTimeoutMs / 60_000);

const notices: Record<string, string> = {
  timeout: `You were signed out after ${idleMinutes} minutes of inactivity.`,
  expired: 'Your session reached its 12-hour limit. Sign in again.',
  revoked: 'Your session was ended. Sign in again.',
  disabled: 'Your session was ended. Contact the service desk if you need access.',
  signed_out: 'You have signed out.',
  signed_out_everywhere: 'You have signed out on every device.',
};

const leaveReasons: Record<string, LeaveReason> = {
  timeout: 'timeout',
  expired: 'expired',
  revoked: 'revoked',
  disabled: 'disabled',
};

export default async function LoginPage({ searchParams }: { searchParams: Promise<{ reason?: string }> }) {
  const state = await getViewerState();
  if (state.viewer) redirect(state.mfaEnrolmentPending ? MFA_ENROLMENT_PATH : homeFor(state.viewer));
  const { reason } = await searchParams;
  return (
    <main className="flex min-h-screen items-center justify-center px-4">
      <div className="w-full max-w-sm rounded-xl border border-slate-200 bg-white p-8 shadow-sm">
        <h1 className="text-2xl font-semibold text-calm">Vigil</h1>
        <p className="mb-6 text-sm text-slate-500">Sign in to the clinician portal</p>
        <LoginForm notice={(reason && Object.hasOwn(notices, reason) && notices[reason]) || null} />
        <SignedOutBroadcast reason={(reason && leaveReasons[reason]) || 'signed_out'} />
      </div>
    </main>
  );
}
