import { redirect } from 'next/navigation';
import type { LeaveReason } from '@/components/session/session-channel';
import { sessionPolicy } from '@/lib/features/credentials/config';
import { getViewerState, homeFor, MFA_ENROLMENT_PATH } from '@/lib/features/auth/current';
import { headers } from 'next/headers';
import { SSO_MESSAGES } from '@/lib/features/auth/sso';
import { heldForCode } from '@/lib/features/auth/sso-pending';
import { idpSignOutUrl, signInChoices } from '@/lib/features/auth/sso-provider';
import { LoginForm } from './login-form';
import { SignedOutBroadcast } from './signed-out-broadcast';
import { SsoCodeForm } from './sso-code-form';
import { SsoSignIn } from './sso-sign-in';

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

/**
 * What an SSO attempt that came back here says: Vigil's own refusal (`?sso=`), or any refusal
 * Auth.js made of the callback (`?error=`: state, nonce, ID token checks), always the same plain sentence.
 */
function ssoMessage(sso: string | undefined, error: string | undefined): string | null {
  if (sso && sso !== 'code') return Object.hasOwn(SSO_MESSAGES, sso) ? SSO_MESSAGES[sso as keyof typeof SSO_MESSAGES] : SSO_MESSAGES.failed;
  return error ? SSO_MESSAGES.failed : null;
}

async function requestOrigin(): Promise<string> {
  const h = await headers();
  return `${h.get('x-forwarded-proto') === 'https' ? 'https' : 'http'}://${h.get('host') ?? 'localhost'}`;
}

export default async function LoginPage({ searchParams }: { searchParams: Promise<{ reason?: string; sso?: string; error?: string; idp?: string }> }) {
  const state = await getViewerState();
  if (state.viewer) redirect(state.mfaEnrolmentPending ? MFA_ENROLMENT_PATH : homeFor(state.viewer));
  const { reason, sso, error, idp } = await searchParams;
  const choices = signInChoices();
  const codeStep = choices.sso && sso === 'code' && (await heldForCode()) !== null;
  const refusal = choices.sso ? ssoMessage(codeStep ? undefined : sso === 'code' ? 'expired' : sso, error) : null;
  const idpSignOut = choices.sso && idp === '1' && reason === 'signed_out' ? await idpSignOutUrl(await requestOrigin()) : null;
  return (
    <main className="flex min-h-screen items-center justify-center px-4">
      <div className="w-full max-w-sm rounded-xl border border-slate-200 bg-white p-8 shadow-sm">
        <h1 className="text-2xl font-semibold text-calm">Vigil</h1>
        <p className="mb-6 text-sm text-slate-500">Sign in to the clinician portal</p>
        {refusal && (
          <p role="alert" className="mb-4 rounded-md bg-red-50 px-3 py-2 text-sm text-red-800">
            {refusal}
          </p>
        )}
        {codeStep ? (
          <SsoCodeForm prompt={SSO_MESSAGES.code_required} />
        ) : (
          <div className="space-y-4">
            {choices.passwords && <LoginForm notice={(reason && Object.hasOwn(notices, reason) && notices[reason]) || null} />}
            {!choices.passwords && reason && Object.hasOwn(notices, reason) && (
              <p role="status" className="rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900">
                {notices[reason]}
              </p>
            )}
            {choices.sso && choices.passwords && <p className="text-center text-xs uppercase tracking-wide text-slate-500">or</p>}
            {choices.sso && <SsoSignIn label={choices.sso} primary={!choices.passwords} />}
            {idpSignOut && (
              <p className="text-sm text-slate-600">
                You are still signed in to {choices.sso} on this computer.{' '}
                <a href={idpSignOut} className="font-medium text-calm underline">
                  Sign out of {choices.sso} too
                </a>
              </p>
            )}
          </div>
        )}
        <SignedOutBroadcast reason={(reason && leaveReasons[reason]) || 'signed_out'} />
      </div>
    </main>
  );
}
