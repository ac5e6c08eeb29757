'use server';

import { revalidatePath } from 'next/cache';
import type { Result } from '@/lib/domain/result';
import { confirmSecondFactor, signOutEverywhere } from '@/lib/features/auth/account-sessions';
import { guardedAction } from '@/lib/features/auth/entry';
import { beginTotpEnrolment, confirmTotpEnrolment, disableTotp, renewRecoveryCodes } from '@/lib/features/auth/mfa-enrolment';
import { signOut } from '@/lib/features/auth/next-auth';

/** What the MFA forms show after each step. Recovery codes appear here once and nowhere else. */
export interface MfaFormState {
  message: string | null;
  pending?: { secret: string; qrDataUrl: string; token: string };
  recoveryCodes?: string[];
  disabled?: boolean;
}

const MFA_PAGE = '/account/mfa';

/** Accounts that still owe their MFA set-up may use every action here (that is how they set it up). */
const pendingMfaAllowed = { allowPendingMfa: true };

const refused = (result: Extract<Result<unknown, string>, { ok: false }>): MfaFormState => {
  // A lapsed re-authentication: re-render the page, which then asks for the password.
  if (result.error === 'reauth_required') revalidatePath(MFA_PAGE);
  return { message: result.message };
};

const text = (form: FormData, name: string) => form.get(name) ?? '';

export const confirmFactorAction = guardedAction(
  confirmSecondFactor,
  (_viewer, _previous: MfaFormState, form: FormData) => ({ secret: text(form, 'secret') }),
  (result): MfaFormState => {
    if (!result.ok) return { message: result.message };
    revalidatePath(MFA_PAGE);
    return { message: null };
  },
  pendingMfaAllowed,
);

export const beginEnrolmentAction = guardedAction(
  beginTotpEnrolment,
  (_viewer, _previous: MfaFormState) => ({}),
  (result): MfaFormState => {
    if (!result.ok) return refused(result);
    const { secret, qrDataUrl, token } = result.value;
    return { message: null, pending: { secret, qrDataUrl, token } };
  },
  pendingMfaAllowed,
);

export const confirmEnrolmentAction = guardedAction(
  confirmTotpEnrolment,
  (_viewer, _previous: MfaFormState, form: FormData) => ({ token: text(form, 'token'), code: text(form, 'code') }),
  (result, previous): MfaFormState => {
    // A mistyped code keeps the QR code on screen for another try.
    if (!result.ok) return result.error === 'invalid' || result.error === 'invalid_code' ? { ...previous, message: result.message } : refused(result);
    revalidatePath(MFA_PAGE);
    return { message: null, recoveryCodes: result.value.recoveryCodes };
  },
  pendingMfaAllowed,
);

export const renewRecoveryCodesAction = guardedAction(
  renewRecoveryCodes,
  (_viewer, _previous: MfaFormState) => ({}),
  (result): MfaFormState => {
    if (!result.ok) return refused(result);
    revalidatePath(MFA_PAGE);
    return { message: null, recoveryCodes: result.value.recoveryCodes };
  },
  pendingMfaAllowed,
);

export const disableMfaAction = guardedAction(
  disableTotp,
  (_viewer, _previous: MfaFormState) => ({}),
  (result): MfaFormState => {
    if (!result.ok) return refused(result);
    revalidatePath(MFA_PAGE);
    return { message: 'Two-factor authentication is off.', disabled: true };
  },
  pendingMfaAllowed,
);

export const signOutEverywhereAction = guardedAction(
  signOutEverywhere,
  () => ({}),
  async (): Promise<void> => {
    await signOut({ redirectTo: '/login?reason=signed_out_everywhere' });
  },
  pendingMfaAllowed,
);
