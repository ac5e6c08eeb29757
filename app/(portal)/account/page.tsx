import Link from 'next/link';
import { listOwnSessions } from '@/lib/features/auth/account-sessions';
import { requireViewer } from '@/lib/features/auth/current';
import { getMfaStatus } from '@/lib/features/auth/mfa-enrolment';
import { signOutEverywhereAction } from './actions';

export const dynamic = 'force-dynamic';

const when = (d: Date) => d.toLocaleString('en-US', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }) + ' UTC';

export default async function AccountPage() {
  const viewer = await requireViewer();
  const [mfa, sessions] = await Promise.all([getMfaStatus(viewer), listOwnSessions(viewer)]);
  return (
    <div className="space-y-6">
      <div>
        <h1 className="text-xl font-semibold">Your account</h1>
        <p className="text-sm text-slate-600">{viewer.displayName} · {viewer.email}</p>
      </div>

      <section aria-labelledby="mfa-heading" className="rounded-lg border border-slate-200 bg-white p-4">
        <h2 id="mfa-heading" className="mb-2 text-base font-semibold text-calm">Two-factor authentication</h2>
        <p className="text-sm" data-testid="mfa-status">
          {mfa.enabled
            ? `On since ${when(mfa.enabledAt!)}. ${mfa.recoveryCodesLeft} of 10 recovery codes left.`
            : 'Off. A stolen password alone would open this account.'}
        </p>
        <Link href="/account/mfa" className="mt-2 inline-block text-sm text-calm hover:underline">
          {mfa.enabled ? 'Manage two-factor authentication' : 'Set up two-factor authentication'}
        </Link>
      </section>

      <section aria-labelledby="sessions-heading" className="rounded-lg border border-slate-200 bg-white p-4">
        <h2 id="sessions-heading" className="mb-2 text-base font-semibold text-calm">Where you are signed in</h2>
        <table className="w-full text-sm" data-testid="own-sessions">
          <thead className="text-left text-slate-500">
            <tr>
              <th className="py-1 pr-3 font-medium">Browser</th>
              <th className="py-1 pr-3 font-medium">Address</th>
              <th className="py-1 pr-3 font-medium">Signed in</th>
              <th className="py-1 pr-3 font-medium">Last active</th>
            </tr>
          </thead>
          <tbody>
            {sessions.map((s) => (
              <tr key={s.id} className="border-t border-slate-100">
                <td className="py-1 pr-3">{s.browser}{s.current && <span className="ml-2 rounded bg-calm-light px-1.5 text-xs text-calm">this browser</span>}</td>
                <td className="py-1 pr-3 font-mono">{s.ip ?? 'unknown'}</td>
                <td className="py-1 pr-3">{when(s.createdAt)}</td>
                <td className="py-1 pr-3">{when(s.lastSeenAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <form action={signOutEverywhereAction} className="mt-3">
          <button type="submit" className="rounded-md border border-red-300 px-3 py-1 text-sm text-red-800 hover:bg-red-50">Sign out everywhere</button>
          <p className="mt-1 text-xs text-slate-500">Ends every session of this account, on every computer, including this one.</p>
        </form>
      </section>
    </div>
  );
}
