import Link from 'next/link';
import { notFound } from 'next/navigation';
import { requireViewer } from '@/lib/features/auth/current';
import { getAuditEntry } from '@/lib/features/audit-review/entry';
import { revealReasons } from '@/lib/domain/audit/reveal-reasons';
import { formatInstant } from '../format';
import { RevealForm } from './reveal-form';
import { describeAction } from '@/lib/domain/audit/actions';

/**
 * One audit entry in full. The recorded before/after values of a change are PHI: they stay sealed
 * until the privacy officer asks for them, with a reason, in a POST (./reveal-form.tsx); this GET
 * page never opens them, so no link or cross-site navigation can.
 */
export default async function AuditEntryPage({ params }: { params: Promise<{ seq: string }> }) {
  const viewer = await requireViewer();
  const { seq } = await params;
  const result = await getAuditEntry(viewer, { seq });
  if (!result.ok) return <p role="alert" className="text-sm text-red-700">{result.message}</p>;
  if (!result.value) notFound();
  const { entry, chain, canReveal } = result.value;
  // The registry's description, when the name is still registered (the trail keeps old names).
  const about = describeAction(entry.action);
  const rows: Array<[string, React.ReactNode]> = [
    ['Sequence', entry.seq],
    ['Log id', entry.logId],
    ['When', formatInstant(entry.occurredAt)],
    ['User', entry.user ? `${entry.user.displayName ?? ''} ${entry.user.email ? `<${entry.user.email}>` : ''} (${entry.user.id})` : '—'],
    ['Role at the time', entry.roles.join(', ') || '—'],
    ['Action', <><span className="font-mono">{entry.action}</span>{about && <span className="ml-2 text-slate-500">{about}</span>}</>],
    ['Resource', `${entry.resourceType}${entry.resourceId ? ` ${entry.resourceId}` : ''}`],
    ['Patient', entry.patientId ? <Link href={`/admin/audit/disclosures/${entry.patientId}`} prefetch={false} className="text-calm hover:underline">{entry.patientId}</Link> : '—'],
    ['Outcome', entry.outcome],
    ['Emergency access', entry.breakGlass ? <Link href={`/admin/break-glass/${entry.breakGlass.grantId}`} prefetch={false} className="text-calm hover:underline">{entry.breakGlass.reasonCode ?? 'grant'} ({entry.breakGlass.grantId})</Link> : '—'],
    ['IP address', entry.ip ?? '—'],
    ['User agent', entry.userAgent ?? '—'],
    ['Details', entry.details ? <pre className="whitespace-pre-wrap text-xs">{JSON.stringify(entry.details, null, 2)}</pre> : '—'],
    ['Previous hash', <code key="p" className="break-all text-xs">{entry.prevHash}</code>],
    ['Hash', <code key="h" className="break-all text-xs">{entry.hash}</code>],
  ];
  return (
    <div className="space-y-4">
      <div className="flex items-baseline justify-between">
        <h1 className="text-xl font-semibold">Audit entry {entry.seq}</h1>
        <Link href="/admin/audit" className="text-sm text-calm hover:underline">← Audit trail</Link>
      </div>
      <p className={`rounded-md px-3 py-2 text-sm ${chain.hashValid && chain.linked ? 'bg-green-50 text-green-800' : 'bg-red-50 text-red-800'}`} data-testid="entry-chain">
        {chain.hashValid ? 'Its content matches its hash' : 'Its content does NOT match its hash'}
        {' · '}
        {chain.linked ? 'it links to the entry before it.' : 'it does NOT link to the entry before it.'}
      </p>
      <dl className="grid grid-cols-[12rem_1fr] gap-x-4 gap-y-2 rounded-lg border border-slate-200 bg-white p-4 text-sm">
        {rows.map(([label, value]) => (
          <div key={label} className="contents">
            <dt className="text-slate-500">{label}</dt>
            <dd className="min-w-0 break-words">{value}</dd>
          </div>
        ))}
      </dl>
      {canReveal && <RevealForm seq={entry.seq} reasons={revealReasons} />}
    </div>
  );
}
