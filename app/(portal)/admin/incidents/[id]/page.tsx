import Link from 'next/link';
import { notFound } from 'next/navigation';
import { ActionForm } from '@/components/chart/action-form';
import { AccessChart } from '@/components/monitor/access-chart';
import { caseStatusLabels, SeverityBadge, utcTime } from '@/components/monitor/severity-badge';
import { requireViewer } from '@/lib/features/auth/current';
import { getIncidentCase } from '@/lib/features/monitor';
import { resolveIncidentAction } from './actions';

export default async function IncidentCasePage({ params }: { params: Promise<{ id: string }> }) {
  const viewer = await requireViewer();
  const { id } = await params;
  const result = await getIncidentCase(viewer, id);
  if (!result.ok && result.error === 'not_found') notFound();
  if (!result.ok) return <p role="alert" className="text-sm text-red-700">You do not have access to this page.</p>;
  const { incident, user, evidence, patientIds, series, baseline, threshold, otherCases } = result.value;

  return (
    <div className="space-y-6" data-testid="incident-case" data-status={incident.status}>
      <div className="flex items-baseline justify-between">
        <h1 className="flex items-center gap-3 text-xl font-semibold">
          <SeverityBadge severity={incident.severity} /> {incident.ruleLabel}
        </h1>
        <Link href="/admin/incidents" className="text-sm text-calm hover:underline">← All incidents</Link>
      </div>

      <dl className="grid grid-cols-2 gap-x-6 gap-y-1 rounded-lg border border-slate-200 bg-white p-4 text-sm md:grid-cols-4">
        <dt className="text-slate-500">User</dt>
        <dd>{user.displayName} <span className="text-slate-500">({user.email})</span></dd>
        <dt className="text-slate-500">Account</dt>
        <dd data-testid="account-state">{user.disabled ? (user.disabledByMonitor ? 'Disabled by monitoring' : 'Disabled') : 'Enabled'}</dd>
        <dt className="text-slate-500">Window</dt>
        <dd>{utcTime(incident.windowStart)}</dd>
        <dt className="text-slate-500">Opened</dt>
        <dd>{utcTime(incident.createdAt)}</dd>
        <dt className="text-slate-500">Status</dt>
        <dd data-testid="case-status">{caseStatusLabels[incident.status] ?? incident.status}</dd>
      </dl>

      <section className="space-y-2">
        <h2 className="text-base font-semibold">Hourly accesses against the baseline</h2>
        <AccessChart
          points={series}
          baseline={baseline.value}
          threshold={threshold}
          highlightHour={incident.windowStart}
          title={`Hourly accesses by ${user.displayName} against their baseline`}
        />
        <p className="text-xs text-slate-500">
          Baseline: {baseline.source === 'user'
            ? `the user’s typical busy hour (90th percentile of ${baseline.activeHours} active hours; mean ${baseline.mean})`
            : `the default for the user’s role (only ${baseline.activeHours} active hours of history)`}. Threshold: the volume rule’s limit for this user.
        </p>
      </section>

      <section className="space-y-2">
        <h2 className="text-base font-semibold">Evidence</h2>
        <dl className="grid grid-cols-2 gap-x-6 gap-y-1 rounded-lg border border-slate-200 bg-white p-4 text-sm" data-testid="evidence">
          {evidence.map((item) => (
            <div key={item.label} className="contents">
              <dt className="text-slate-500">{item.label}</dt>
              <dd>{item.value}</dd>
            </div>
          ))}
        </dl>
        {patientIds.length > 0 && (
          <details className="rounded-lg border border-slate-200 bg-white p-4 text-sm">
            <summary className="cursor-pointer">Patients involved ({patientIds.length}, record ids only)</summary>
            <ul className="mt-2 grid grid-cols-1 gap-1 font-mono text-xs md:grid-cols-2">
              {patientIds.map((pid) => <li key={pid}>{pid}</li>)}
            </ul>
          </details>
        )}
      </section>

      <section className="space-y-2">
        <h2 className="text-base font-semibold">Decision</h2>
        {incident.status === 'open' ? (
          <ActionForm action={resolveIncidentAction} hidden={{ incidentId: incident.id }} submitLabel="Record decision" className="space-y-3 rounded-lg border border-slate-200 bg-white p-4" testId="resolve-form">
            <fieldset className="space-y-1 text-sm">
              <legend className="text-xs font-medium text-slate-600">Outcome</legend>
              <label className="flex items-center gap-2">
                <input type="radio" name="decision" value="appropriate" required />
                Appropriate: close the case{user.disabledByMonitor ? ' and re-enable the account' : ''}
              </label>
              <label className="flex items-center gap-2">
                <input type="radio" name="decision" value="confirmed" />
                Confirm and refer: close the case for investigation; the account stays as it is
              </label>
            </fieldset>
            <label className="block text-xs font-medium text-slate-600">
              Comment (required)
              <textarea name="comment" required minLength={10} maxLength={2000} rows={3} className="mt-1 block w-full rounded border border-slate-300 px-2 py-1 text-sm text-ink" />
            </label>
          </ActionForm>
        ) : (
          <div className="rounded-lg border border-slate-200 bg-white p-4 text-sm">
            <p>{caseStatusLabels[incident.status] ?? incident.status} by {incident.resolvedBy ?? 'unknown'} on {utcTime(incident.resolvedAt)}.</p>
            {incident.resolutionComment?.status === 'shown' && (
              <p className="mt-1 whitespace-pre-wrap text-slate-700" data-testid="resolution-comment">{incident.resolutionComment.text}</p>
            )}
            {incident.resolutionComment?.status === 'unavailable' && (
              <p className="mt-1 text-slate-500" data-testid="resolution-comment-missing">Comment unavailable (it cannot be opened).</p>
            )}
          </div>
        )}
      </section>

      {otherCases.length > 0 && (
        <section className="space-y-2">
          <h2 className="text-base font-semibold">Other cases for this user</h2>
          <ul className="space-y-1 text-sm">
            {otherCases.map((c) => (
              <li key={c.id} className="flex items-center gap-2">
                <SeverityBadge severity={c.severity} />
                <Link href={`/admin/incidents/${c.id}`} className="text-calm hover:underline">{c.ruleLabel}</Link>
                <span className="text-slate-500">{utcTime(c.windowStart)} · {caseStatusLabels[c.status] ?? c.status}</span>
              </li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}
