import Link from 'next/link';
import { AccessChart } from '@/components/monitor/access-chart';
import { SeverityBadge } from '@/components/monitor/severity-badge';
import { requireViewer } from '@/lib/features/auth/current';
import { getAdminDashboard, type Severity } from '@/lib/features/monitor';

const severities: Severity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'];

function Card({ title, children, testId }: { title: string; children: React.ReactNode; testId?: string }) {
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-4" data-testid={testId}>
      <h2 className="mb-2 text-sm font-medium text-slate-500">{title}</h2>
      {children}
    </section>
  );
}

/** For administrators and privacy officers: counts only, no PHI. */
export default async function AdminDashboardPage() {
  const viewer = await requireViewer();
  const dashboard = await getAdminDashboard(viewer);
  if (!dashboard.ok) return <p role="alert" className="text-sm text-red-700">{dashboard.message}</p>;
  const { accessesByHour, breakGlass, incidents, chain, showIncidents } = dashboard.value;
  const total = accessesByHour.reduce((s, h) => s + h.accesses, 0);
  const refused = accessesByHour.reduce((s, h) => s + h.denials, 0);

  return (
    <div className="space-y-6">
      <h1 className="text-xl font-semibold">Dashboard</h1>
      <div className="grid gap-4 md:grid-cols-3">
        <Card title="Emergency access" testId="dashboard-break-glass">
          <p className="text-2xl font-semibold">{breakGlass.active}</p>
          <p className="text-sm text-slate-600">grants active now</p>
          <p className="mt-2 text-sm">
            {showIncidents ? (
              <Link href="/admin/break-glass" className="text-calm hover:underline">{breakGlass.pendingReview} awaiting review</Link>
            ) : (
              <span>{breakGlass.pendingReview} awaiting review</span>
            )}
          </p>
        </Card>
        <Card title="Open incidents" testId="dashboard-incidents">
          <p className="text-2xl font-semibold">{incidents.open}</p>
          <ul className="mt-1 flex flex-wrap gap-2 text-sm">
            {severities.map((s) => (
              <li key={s} className="flex items-center gap-1"><SeverityBadge severity={s} /> {incidents.bySeverity[s]}</li>
            ))}
          </ul>
          <p className="mt-2 text-sm text-slate-600">
            {incidents.disabledAccounts} account{incidents.disabledAccounts === 1 ? '' : 's'} disabled by monitoring
            {showIncidents && <> · <Link href="/admin/incidents" className="text-calm underline">Review</Link></>}
          </p>
        </Card>
        <Card title="Audit chain" testId="dashboard-chain">
          <p className={`text-lg font-semibold ${chain.ok ? 'text-green-700' : 'text-red-700'}`}>{chain.ok ? (chain.partial ? 'Intact so far' : 'Intact') : 'Broken'}</p>
          <p className="break-all text-xs text-slate-600">{chain.summary}</p>
          <p className="mt-1 text-xs text-slate-500">
            {chain.fromCheckpoint ? 'Checked from the last signed checkpoint.' : 'No signed checkpoint yet: checked from the start.'} A full walk:
            <code className="ml-1">npm run audit:verify</code>.
          </p>
        </Card>
      </div>
      <Card title={`Record accesses per hour, last 24 hours (${total} accesses, ${refused} refused)`} testId="dashboard-accesses">
        <AccessChart points={accessesByHour} title="Record accesses per hour by all users, last 24 hours" />
      </Card>
    </div>
  );
}
