'use client';

import Link from 'next/link';
import { useActionState, useState } from 'react';
import {
  beginEnrolmentAction,
  confirmEnrolmentAction,
  disableMfaAction,
  renewRecoveryCodesAction,
  type MfaFormState,
} from '../actions';

const initial: MfaFormState = { message: null };
const button = 'rounded-md px-4 py-2 text-sm font-medium disabled:opacity-60';

/** Set up, replace or turn off the authenticator; shows new recovery codes once. */
export function MfaManager({ enabled, required, recoveryCodesLeft, continueTo }: {
  enabled: boolean;
  required: boolean;
  recoveryCodesLeft: number;
  continueTo: string;
}) {
  const [begun, begin, beginning] = useActionState(beginEnrolmentAction, initial);
  const [confirmed, confirm, confirming] = useActionState(confirmEnrolmentAction, initial);
  const [renewed, renew, renewing] = useActionState(renewRecoveryCodesAction, initial);
  const [disabled, disable, disabling] = useActionState(disableMfaAction, initial);
  // Where "continue" leads is fixed when the page opens: enrolling re-renders the page as no
  // longer pending, but someone who had to enrol should go on to their work, not back here.
  const [continueTarget] = useState(continueTo);

  if (confirmed.recoveryCodes) return <RecoveryCodes codes={confirmed.recoveryCodes} continueTo={continueTarget} enrolled />;
  if (renewed.recoveryCodes) return <RecoveryCodes codes={renewed.recoveryCodes} continueTo={continueTarget} enrolled={false} />;

  const pending = begun.pending;
  if (pending) {
    return (
      <div className="space-y-3 rounded-lg border border-slate-200 bg-white p-4">
        <h2 className="text-base font-semibold text-calm">Scan this QR code with your authenticator app</h2>
        {/* eslint-disable-next-line @next/next/no-img-element -- a data: URL made on the server, nothing to optimise */}
        <img src={pending.qrDataUrl} alt="QR code for your authenticator app" width={220} height={220} className="rounded border border-slate-200" />
        <p className="text-sm text-slate-600">
          Cannot scan? Enter this key in the app instead:{' '}
          <code data-testid="totp-secret" className="break-all rounded bg-slate-100 px-1 font-mono">{pending.secret}</code>
        </p>
        <form action={confirm} className="space-y-2">
          <input type="hidden" name="token" value={pending.token} />
          {confirmed.message && <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800">{confirmed.message}</p>}
          <label className="block text-sm font-medium">
            Code from the app
            <input name="code" inputMode="numeric" autoComplete="one-time-code" maxLength={7} required
              className="mt-1 block w-40 rounded-md border border-slate-300 px-3 py-2 tracking-widest" />
          </label>
          <button type="submit" disabled={confirming} className={`${button} bg-calm text-white`}>
            {confirming ? 'Checking…' : 'Turn on two-factor authentication'}
          </button>
        </form>
      </div>
    );
  }

  const message = begun.message ?? renewed.message ?? disabled.message;
  const isOn = enabled && !disabled.disabled;
  return (
    <div className="space-y-3 rounded-lg border border-slate-200 bg-white p-4">
      <p className="text-sm" data-testid="mfa-state">
        {isOn ? `Two-factor authentication is on. ${recoveryCodesLeft} of 10 recovery codes left.` : 'Two-factor authentication is off.'}
      </p>
      {message && <p role={disabled.disabled ? 'status' : 'alert'} className="rounded-md bg-slate-100 px-3 py-2 text-sm">{message}</p>}
      <div className="flex flex-wrap gap-2">
        <form action={begin}>
          <button type="submit" disabled={beginning} className={`${button} bg-calm text-white`}>
            {isOn ? 'Set up a new authenticator' : 'Set up an authenticator app'}
          </button>
        </form>
        {isOn && (
          <form action={renew}>
            <button type="submit" disabled={renewing} className={`${button} border border-slate-300`}>New recovery codes</button>
          </form>
        )}
        {isOn && !required && (
          <form action={disable}>
            <button type="submit" disabled={disabling} className={`${button} border border-red-300 text-red-800`}>Turn off two-factor authentication</button>
          </form>
        )}
      </div>
    </div>
  );
}

function RecoveryCodes({ codes, continueTo, enrolled }: { codes: string[]; continueTo: string; enrolled: boolean }) {
  return (
    <div className="space-y-3 rounded-lg border border-green-200 bg-white p-4">
      <h2 className="text-base font-semibold text-calm">
        {enrolled ? 'Two-factor authentication is on. Save your recovery codes' : 'Your new recovery codes'}
      </h2>
      <p className="text-sm text-slate-700">
        Each code signs you in once if your phone is lost (type it in the code field). They are shown only now: print
        them or keep them somewhere safe, away from this computer.
        {enrolled ? ' Your other sessions have been signed out.' : ' The previous codes no longer work.'}
      </p>
      <ol data-testid="recovery-codes" className="grid grid-cols-2 gap-1 font-mono text-sm">
        {codes.map((code) => <li key={code}>{code}</li>)}
      </ol>
      <Link href={continueTo} className="inline-block rounded-md bg-calm px-4 py-2 text-sm font-medium text-white">I have saved them: continue</Link>
    </div>
  );
}
