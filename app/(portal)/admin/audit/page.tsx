import Link from 'next/link';
import { hasAuditPermission } from '@/lib/domain/access/policy';
import { requireViewer } from '@/lib/features/auth/current';
import { auditPermission } from '@/lib/domain/access/permission-names';
import { searchAuditLog, type AuditListEntry } from '@/lib/features/audit-review/query';
import { chainStatus, type ChainStatus } from '@/lib/features/audit-review/status';
import { filterKeys, filterQuery, firstParam, formatInstant } from './format';
import { VerifyNow } from './verify-now';
import { describeAction } from '@/lib/domain/audit/actions';

type Params = Record<string, string | string[] | undefined>;

export default async function AuditTrailPage({ searchParams }: { searchParams: Promise<Params> }) {
  const viewer = await requireViewer();
  const raw = await searchParams;
  const params = Object.fromEntries(Object.keys(raw).map((k) => [k, firstParam(raw[k])])) as Record<string, string | undefined>;
  // The search is recorded (allowed or refused) before anything is shown.
  const result = await searchAuditLog(viewer, params);
  if (!result.ok && result.error === 'denied') {
    return (
      <div role="alert" className="mx-auto max-w-xl rounded-lg border border-red-200 bg-white p-6" data-testid="audit-denied">
        <p className="text-sm font-semibold uppercase tracking-wide text-red-700">403 · Access denied</p>
        <h1 className="mt-1 text-xl font-semibold">You do not have access to the audit trail</h1>
        <p className="mt-2 text-sm text-slate-600">The audit trail is for privacy officers. This attempt has been recorded.</p>
      </div>
    );
  }
  const status = await chainStatus();
  const canExport = hasAuditPermission(viewer, auditPermission.export);
  const filtered = filterKeys.some((k) => params[k]);

  return (
    <div className="space-y-5">
      <div className="flex items-baseline justify-between">
        <h1 className="text-xl font-semibold">Audit trail</h1>
        <Link href="/admin/audit/disclosures" className="text-sm text-calm hover:underline">Accounting of disclosures</Link>
      </div>

      <ChainStatusCard status={status} />

      <form method="get" className="grid gap-3 rounded-lg border border-slate-200 bg-white p-4 text-sm md:grid-cols-4" aria-label="Filter the audit trail">
        <Input label="User (email)" name="user" value={params.user} type="email" />
        <Input label="Patient id" name="patient" value={params.patient} placeholder="uuid" />
        <Input label="Action" name="action" value={params.action} placeholder="chart.view or progress_notes.*" />
        <label className="flex flex-col gap-1">
          <span className="text-slate-600">Outcome</span>
          <select name="outcome" defaultValue={params.outcome ?? ''} className="rounded-md border border-slate-300 px-2 py-1.5">
            <option value="">Any</option>
            <option value="allowed">Allowed</option>
            <option value="denied">Denied</option>
          </select>
        </label>
        <Input label="From (UTC)" name="from" value={params.from} type="datetime-local" />
        <Input label="To (UTC)" name="to" value={params.to} type="datetime-local" />
        <label className="flex items-center gap-2 self-end pb-2">
          <input type="checkbox" name="breakGlass" value="on" defaultChecked={params.breakGlass === 'on'} />
          <span>Emergency access only</span>
        </label>
        <div className="flex items-end gap-3 pb-1">
          <button type="submit" className="rounded-md bg-calm px-4 py-1.5 text-white">Filter</button>
          {filtered && <Link href="/admin/audit" className="text-calm hover:underline">Clear</Link>}
        </div>
      </form>

      {!result.ok ? (
        <p role="alert" className="text-sm text-red-700">{result.message}</p>
      ) : (
        <>
          <div className="flex items-center justify-between text-sm">
            <p className="text-slate-600">
              {result.value.unknownUser ? 'No account has that email.' : `${result.value.entries.length} entr${result.value.entries.length === 1 ? 'y' : 'ies'} on this page, newest first.`}
            </p>
            {canExport && (
              <p className="flex gap-4">
                {/* Plain links, not <Link>: an export must never be prefetched (each one is recorded). */}
                <a href={`/admin/audit/export?${filterQuery(params, { format: 'csv' })}`} className="text-calm hover:underline" download>Download CSV</a>
                <a href={`/admin/audit/export?${filterQuery(params, { format: 'fhir' })}`} className="text-calm hover:underline" download>Download FHIR AuditEvents</a>
              </p>
            )}
          </div>
          <EntriesTable entries={result.value.entries} />
          <nav className="flex justify-between text-sm" aria-label="Pages">
            <span>{result.value.newer && <Link href={`/admin/audit?${filterQuery(params, { after: result.value.newer })}`} className="text-calm hover:underline">← Newer</Link>}</span>
            <span>{result.value.older && <Link href={`/admin/audit?${filterQuery(params, { before: result.value.older })}`} className="text-calm hover:underline">Older →</Link>}</span>
          </nav>
        </>
      )}
    </div>
  );
}

function Input({ label, name, value, type = 'text', placeholder }: { label: string; name: string; value?: string; type?: string; placeholder?: string }) {
  return (
    <label className="flex flex-col gap-1">
      <span className="text-slate-600">{label}</span>
      <input name={name} type={type} defaultValue={value ?? ''} placeholder={placeholder} maxLength={254} className="rounded-md border border-slate-300 px-2 py-1.5" />
    </label>
  );
}

function ChainStatusCard({ status }: { status: ChainStatus }) {
  const tone = status.state === 'ok' ? 'border-green-200 text-green-800' : status.state === 'partial' ? 'border-amber-200 text-amber-900' : 'border-red-300 text-red-800';
  const headline = { ok: 'Chain intact', partial: 'Intact so far', broken: 'Chain broken', checkpoint_invalid: 'Checkpoint invalid' }[status.state];
  return (
    <section className={`rounded-lg border bg-white p-4 ${tone}`} data-testid="chain-status" data-state={status.state}>
      <div className="flex flex-wrap items-start justify-between gap-4">
        <div className="min-w-0 space-y-1">
          <h2 className="text-base font-semibold">{headline}</h2>
          <p className="break-all text-sm">{status.summary}</p>
          <p className="text-xs text-slate-500">
            {status.checkpoint
              ? `Walked from the signed checkpoint of ${formatInstant(status.checkpoint.createdAt)} (seq ${status.checkpoint.seq}); entries before it were verified then.`
              : 'No signed checkpoint yet: walked from the first entry.'}{' '}
            A full walk checks every entry and writes a new checkpoint.
          </p>
        </div>
        <VerifyNow />
      </div>
    </section>
  );
}

function summary(entry: AuditListEntry): string {
  const d = entry.details ?? {};
  const parts: string[] = [];
  if (Array.isArray(d.sections)) parts.push(`sections: ${(d.sections as string[]).join(', ')}`);
  if (typeof d.reason === 'string') parts.push(`reason: ${d.reason}`);
  if (Array.isArray(d.shown)) parts.push(`${d.shown.length} patient${d.shown.length === 1 ? '' : 's'} shown`);
  if (typeof d.searchedBy === 'string' && d.searchedBy !== 'none') parts.push(`by ${d.searchedBy.replace('_', ' ')}`);
  if (entry.breakGlass) parts.push(`emergency access${entry.breakGlass.reasonCode ? `: ${entry.breakGlass.reasonCode.replace(/_/g, ' ')}` : ''}`);
  if (entry.hasState) parts.push('values recorded (sealed)');
  return parts.join(' · ');
}

function EntriesTable({ entries }: { entries: AuditListEntry[] }) {
  return (
    <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
      <table className="w-full text-sm" data-testid="audit-entries">
        <thead className="bg-slate-100 text-left text-slate-600">
          <tr>{['Seq', 'When (UTC)', 'User', 'Action', 'Patient', 'Outcome', 'Details', 'From'].map((h) => <th key={h} className="px-3 py-2 font-medium">{h}</th>)}</tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.seq} className={`border-t border-slate-100 align-top ${e.breakGlass ? 'bg-red-50' : ''}`} data-seq={e.seq} data-action={e.action}>
              <td className="px-3 py-2 font-mono text-xs"><Link href={`/admin/audit/${e.seq}`} className="text-calm hover:underline" prefetch={false}>{e.seq}</Link></td>
              <td className="whitespace-nowrap px-3 py-2">{formatInstant(e.occurredAt).replace(' UTC', '')}</td>
              <td className="px-3 py-2" data-testid="entry-user">{e.user ? (e.user.email ?? e.user.id) : '—'}{e.roles.length > 0 && <span className="block text-xs text-slate-500">{e.roles.join(', ')}</span>}</td>
              <td className="px-3 py-2 font-mono text-xs" title={describeAction(e.action) ?? undefined}>{e.action}</td>
              <td className="px-3 py-2 font-mono text-xs">
                {e.patientId ? <Link href={`/admin/audit/disclosures/${e.patientId}`} title={e.patientId} className="text-calm hover:underline" prefetch={false}>{e.patientId.slice(0, 8)}…</Link> : '—'}
              </td>
              <td className={`px-3 py-2 ${e.outcome === 'denied' ? 'font-medium text-red-700' : ''}`}>{e.outcome}</td>
              <td className="px-3 py-2 text-xs text-slate-600">{summary(e)}</td>
              <td className="px-3 py-2 text-xs text-slate-500">{e.ip ?? '—'}</td>
            </tr>
          ))}
          {entries.length === 0 && <tr><td colSpan={8} className="px-3 py-6 text-center text-slate-500">No entries match.</td></tr>}
        </tbody>
      </table>
    </div>
  );
}
