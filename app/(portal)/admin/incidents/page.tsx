import Link from 'next/link';
import { caseStatusLabels, SeverityBadge, utcTime } from '@/components/monitor/severity-badge';
import { requireViewer } from '@/lib/features/auth/current';
import { getIncidentQueue, type QueueFilter } from '@/lib/features/monitor';

export default async function IncidentQueuePage({ searchParams }: { searchParams: Promise<{ status?: string }> }) {
  const viewer = await requireViewer();
  const { status } = await searchParams;
  const filter: QueueFilter = status === 'all' ? 'all' : 'open';
  const queue = await getIncidentQueue(viewer, filter);
  if (!queue.ok) return <p role="alert" className="text-sm text-red-700">You do not have access to this page.</p>;

  return (
    <div className="space-y-6">
      <div className="flex items-baseline justify-between">
        <h1 className="text-xl font-semibold">Incidents</h1>
        <nav className="flex gap-4 text-sm" aria-label="Filter">
          <Link href="/admin/incidents" aria-current={filter === 'open' ? 'page' : undefined} className={filter === 'open' ? 'font-semibold text-calm' : 'text-calm hover:underline'}>Open</Link>
          <Link href="/admin/incidents?status=all" aria-current={filter === 'all' ? 'page' : undefined} className={filter === 'all' ? 'font-semibold text-calm' : 'text-calm hover:underline'}>All</Link>
        </nav>
      </div>
      <p className="text-sm text-slate-600">
        Cases raised by access monitoring, one per user, rule and window, grouped by the person they concern. CRITICAL cases
        disabled the account when they opened.
      </p>
      {queue.value.length === 0 && <p className="text-sm text-slate-500">{filter === 'open' ? 'No open incidents.' : 'No incidents yet.'}</p>}
      {queue.value.map((group) => (
        <section key={group.user.id} className="rounded-lg border border-slate-200 bg-white" data-testid="incident-group" data-user-email={group.user.email}>
          <header className="flex flex-wrap items-center gap-3 border-b border-slate-100 px-4 py-2">
            <h2 className="font-medium">{group.user.displayName}</h2>
            <span className="text-sm text-slate-500">{group.user.email}</span>
            {group.user.disabled && (
              <span className="rounded bg-red-50 px-1.5 py-0.5 text-xs font-medium text-red-800">
                {group.user.disabledByMonitor ? 'Account disabled by monitoring' : 'Account disabled'}
              </span>
            )}
            <span className="ml-auto text-sm text-slate-600">{group.openCases} open</span>
          </header>
          <table className="w-full text-sm">
            <thead className="text-left text-slate-500">
              <tr>{['Severity', 'Rule', 'Window', 'Opened', 'Status', ''].map((h) => <th key={h} className="px-4 py-1.5 font-medium">{h}</th>)}</tr>
            </thead>
            <tbody>
              {group.cases.map((c) => (
                <tr key={c.id} className="border-t border-slate-100" data-incident-id={c.id} data-rule={c.rule}>
                  <td className="px-4 py-1.5"><SeverityBadge severity={c.severity} /></td>
                  <td className="px-4 py-1.5">{c.ruleLabel}</td>
                  <td className="px-4 py-1.5">{utcTime(c.windowStart)}</td>
                  <td className="px-4 py-1.5">{utcTime(c.createdAt)}</td>
                  <td className="px-4 py-1.5">{caseStatusLabels[c.status] ?? c.status}</td>
                  <td className="px-4 py-1.5"><Link href={`/admin/incidents/${c.id}`} className="text-calm hover:underline">Review</Link></td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ))}
    </div>
  );
}
