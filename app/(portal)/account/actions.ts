'use server';

import { revalidatePath } from 'next/cache';
import { z } from 'zod';
import { signOutEverywhere } from '@/lib/features/auth/account-sessions';
import { requireViewer } from '@/lib/features/auth/current';
import { beginTotpEnrolment, confirmTotpEnrolment, disableTotp, renewRecoveryCodes, type MfaChangeRefusal } from '@/lib/features/auth/mfa-enrolment';
import { signOut } from '@/lib/features/auth/next-auth';
import { confirmReauthentication } from '@/lib/features/credentials/reauth';

/** What the MFA forms show after each step. Recovery codes appear here once and nowhere else. */
export interface MfaFormState {
  message: string | null;
  pending?: { secret: string; qrDataUrl: string; token: string };
  recoveryCodes?: string[];
  disabled?: boolean;
}

const MFA_PAGE = '/account/mfa';

const refusals: Record<MfaChangeRefusal, string> = {
  reauth_required: 'For your security, confirm your password again first.',
  invalid_code: 'That code did not match. Enter the current 6-digit code from your app.',
  expired: 'The set-up took too long. Start again to get a new QR code.',
  required: 'Two-factor authentication is required for every account here, so it cannot be turned off.',
  not_enrolled: 'Two-factor authentication is not set up for this account.',
};

function refused(reason: MfaChangeRefusal): MfaFormState {
  // A lapsed re-authentication: re-render the page, which then asks for the password.
  if (reason === 'reauth_required') revalidatePath(MFA_PAGE);
  return { message: refusals[reason] };
}

/** Every action re-checks the session itself; accounts that still owe their MFA set-up may use these. */
const viewerForMfa = () => requireViewer({ allowPendingMfa: true });

const reauthInput = z.object({ secret: z.string().min(1, 'Enter your password or a code.').max(1024) });

export async function reauthenticateAction(_previous: MfaFormState, form: FormData): Promise<MfaFormState> {
  const viewer = await viewerForMfa();
  const parsed = reauthInput.safeParse({ secret: form.get('secret') ?? '' });
  if (!parsed.success) return { message: parsed.error.issues[0]?.message ?? 'Enter your password or a code.' };
  if (!(await confirmReauthentication(viewer, parsed.data.secret))) {
    return { message: 'That did not match. Try again (repeated mistakes lock the account for a while).' };
  }
  revalidatePath(MFA_PAGE);
  return { message: null };
}

export async function beginEnrolmentAction(): Promise<MfaFormState> {
  const viewer = await viewerForMfa();
  const result = await beginTotpEnrolment(viewer);
  if (!result.ok) return refused(result.reason);
  const { secret, qrDataUrl, token } = result.pending;
  return { message: null, pending: { secret, qrDataUrl, token } };
}

const confirmInput = z.object({
  token: z.string().min(1).max(4096),
  code: z
    .string()
    .transform((v) => v.replace(/\s/g, ''))
    .pipe(z.string().regex(/^\d{6}$/, 'Enter the 6-digit code your app shows now.')),
});

export async function confirmEnrolmentAction(previous: MfaFormState, form: FormData): Promise<MfaFormState> {
  const viewer = await viewerForMfa();
  const parsed = confirmInput.safeParse({ token: form.get('token') ?? '', code: form.get('code') ?? '' });
  if (!parsed.success) return { ...previous, message: parsed.error.issues[0]?.message ?? refusals.invalid_code };
  const result = await confirmTotpEnrolment(viewer, parsed.data.token, parsed.data.code);
  if (!result.ok) return result.reason === 'invalid_code' ? { ...previous, message: refusals.invalid_code } : refused(result.reason);
  revalidatePath(MFA_PAGE);
  return { message: null, recoveryCodes: result.recoveryCodes };
}

export async function renewRecoveryCodesAction(): Promise<MfaFormState> {
  const viewer = await viewerForMfa();
  const result = await renewRecoveryCodes(viewer);
  if (!result.ok) return refused(result.reason);
  revalidatePath(MFA_PAGE);
  return { message: null, recoveryCodes: result.recoveryCodes };
}

export async function disableMfaAction(): Promise<MfaFormState> {
  const viewer = await viewerForMfa();
  const result = await disableTotp(viewer);
  if (!result.ok) return refused(result.reason);
  revalidatePath(MFA_PAGE);
  return { message: 'Two-factor authentication is off.', disabled: true };
}

export async function signOutEverywhereAction(): Promise<void> {
  const viewer = await requireViewer({ allowPendingMfa: true });
  await signOutEverywhere(viewer);
  await signOut({ redirectTo: '/login?reason=signed_out_everywhere' });
}
