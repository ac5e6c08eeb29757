import Link from 'next/link';
import { hasAdminPermission, hasAuditPermission } from '@/lib/domain/access/policy';
import { requireViewer } from '@/lib/features/auth/current';
import { listRefusedRequests, listReviewQueue, verdictLabels, type ReviewVerdict } from '@/lib/features/break-glass';
import { formatTime, refusalLabels, stateLabels } from './format';
import { adminPermission, auditPermission } from '@/lib/domain/access/permission-names';

export default async function BreakGlassQueuePage() {
  const viewer = await requireViewer();
  const canSettings = hasAdminPermission(viewer, adminPermission.breakGlassSettings);
  if (!hasAuditPermission(viewer, auditPermission.reviewBreakGlass) && canSettings) {
    return (
      <div className="space-y-2">
        <h1 className="text-xl font-semibold">Emergency access</h1>
        <p className="text-sm text-slate-600">Privacy officers review emergency access. Administrators set how long a grant lasts.</p>
        <Link href="/admin/break-glass/settings" className="text-sm text-calm hover:underline">Emergency access window</Link>
      </div>
    );
  }
  // One after the other: a viewer refused the queue is not refused (and audited) twice for one page.
  const queue = await listReviewQueue(viewer);
  const refused = queue.ok ? await listRefusedRequests(viewer) : queue;
  if (!queue.ok || !refused.ok) return <p role="alert" className="text-sm text-red-700">{refused.ok ? queue.message : refused.message}</p>;
  const pending = queue.value.filter((g) => g.reviewStatus === 'pending').length;
  const tampered = queue.value.filter((g) => g.tampered).length;
  return (
    <div className="space-y-6">
      <div className="flex items-baseline justify-between">
        <h1 className="text-xl font-semibold">Emergency access review</h1>
        <div className="flex gap-4 text-sm">
          <Link href="/admin/break-glass/notifications" className="text-calm hover:underline">Notifications</Link>
          <Link href="/admin/break-glass/settings" className="text-calm hover:underline">Window setting</Link>
        </div>
      </div>
      <p className="text-sm text-slate-600">{pending} grant{pending === 1 ? '' : 's'} awaiting review. Pending grants come first, oldest first.</p>
      {tampered > 0 && (
        <p role="alert" className="text-sm text-red-700" data-testid="tampered-grants">
          {tampered} grant{tampered === 1 ? ' was' : 's were'} altered outside Vigil and reported as a case: listed first, with neither window nor verdict trusted.
        </p>
      )}
      <table className="w-full rounded-lg border border-slate-200 bg-white text-sm" data-testid="break-glass-queue">
        <thead className="text-left text-slate-500">
          <tr>{['Status', 'Clinician', 'Patient', 'Reason', 'Granted', 'Access', 'Entries', ''].map((h) => <th key={h} className="px-3 py-2 font-medium">{h}</th>)}</tr>
        </thead>
        <tbody>
          {queue.value.map((g) => (
            <tr key={g.grantId} data-grant-id={g.grantId} data-tampered={g.tampered || undefined} className="border-t border-slate-100 align-top">
              <td className="px-3 py-2">
                <span className={g.tampered ? 'font-medium text-red-800' : g.reviewStatus === 'pending' ? 'font-medium text-amber-800' : g.reviewStatus === 'referred' ? 'text-red-700' : 'text-green-700'}>
                  {verdictLabels[g.reviewStatus as ReviewVerdict | 'pending' | 'tampered'] ?? g.reviewStatus}
                </span>
              </td>
              <td className="px-3 py-2">{g.user.displayName}<br /><span className="text-xs text-slate-500">{g.user.email}</span></td>
              <td className="px-3 py-2 font-mono text-xs">{g.patientId.slice(0, 8)}…</td>
              <td className="px-3 py-2">{g.reasonLabel}</td>
              <td className="px-3 py-2">{formatTime(g.grantedAt)}</td>
              <td className="px-3 py-2">{stateLabels[g.state]}</td>
              <td className="px-3 py-2">{g.activityCount}</td>
              <td className="px-3 py-2"><Link href={`/admin/break-glass/${g.grantId}`} className="text-calm hover:underline">Review</Link></td>
            </tr>
          ))}
          {queue.value.length === 0 && <tr><td colSpan={8} className="px-3 py-4 text-slate-500">No emergency access has been used.</td></tr>}
        </tbody>
      </table>

      <section>
        <h2 className="mb-2 text-base font-semibold">Refused requests</h2>
        <table className="w-full rounded-lg border border-slate-200 bg-white text-sm" data-testid="break-glass-refusals">
          <thead className="text-left text-slate-500">
            <tr>{['When', 'Who', 'Patient', 'Why refused'].map((h) => <th key={h} className="px-3 py-2 font-medium">{h}</th>)}</tr>
          </thead>
          <tbody>
            {refused.value.map((r) => (
              <tr key={r.seq} className="border-t border-slate-100" data-reason={r.reason}>
                <td className="px-3 py-2">{formatTime(r.occurredAt)}</td>
                <td className="px-3 py-2">{r.user ? `${r.user.displayName} (${r.user.email})` : 'Unknown'}</td>
                <td className="px-3 py-2 font-mono text-xs">{r.patientId ? `${r.patientId.slice(0, 8)}…` : '—'}</td>
                <td className="px-3 py-2">{refusalLabels[r.reason] ?? r.reason}</td>
              </tr>
            ))}
            {refused.value.length === 0 && <tr><td colSpan={4} className="px-3 py-4 text-slate-500">None.</td></tr>}
          </tbody>
        </table>
      </section>
    </div>
  );
}
