import Link from 'next/link';
import { notFound } from 'next/navigation';
import { requireViewer } from '@/lib/features/auth/current';
import { getAuditEntry, revealAuditState, type RevealedState } from '@/lib/features/audit-review/entry';
import { firstParam, formatInstant } from '../format';
import { describeAction } from '@/lib/domain/audit/actions';

/**
 * One audit entry in full. The recorded before/after values of a change are PHI: they stay sealed
 * until the privacy officer asks for them with the button below (a GET form, so nothing opens
 * them by prefetching a link), and that request is recorded against the patient.
 */
export default async function AuditEntryPage({
  params,
  searchParams,
}: {
  params: Promise<{ seq: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const viewer = await requireViewer();
  const { seq } = await params;
  const reveal = firstParam((await searchParams).reveal) === '1';
  const result = await getAuditEntry(viewer, { seq });
  if (!result.ok) return <p role="alert" className="text-sm text-red-700">{result.message}</p>;
  if (!result.value) notFound();
  const { entry, chain, canReveal } = result.value;
  // Opening the sealed values is its own recorded act, asked for only when there are some.
  const revealed = reveal && canReveal ? await revealAuditState(viewer, { seq }) : null;
  if (revealed && !revealed.ok) return <p role="alert" className="text-sm text-red-700">{revealed.message}</p>;
  const state = revealed?.value ?? null;
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
      {canReveal && <RecordedValues state={state} />}
    </div>
  );
}

function RecordedValues({ state }: { state: RevealedState | null }) {
  if (!state) {
    return (
      <form method="get" className="rounded-lg border border-amber-200 bg-amber-50 p-4 text-sm">
        <p className="text-amber-900">
          This entry holds the values before and after the change, sealed with the patient’s key. Opening them is an access
          to the patient’s record: it is recorded and appears in the patient’s accounting of disclosures.
        </p>
        <input type="hidden" name="reveal" value="1" />
        <button type="submit" className="mt-3 rounded-md bg-calm px-3 py-1.5 text-white">Show the recorded values</button>
      </form>
    );
  }
  if (state.status !== 'ok') {
    const text = { erased: 'The patient’s data has been erased: the recorded values can no longer be opened.', unavailable: 'The recorded values cannot be opened.', none: 'No values were recorded.' }[state.status];
    return <p className="rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900">{text}</p>;
  }
  const show = (value: unknown) => (value === undefined ? '—' : typeof value === 'string' ? value : JSON.stringify(value));
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-4" data-testid="recorded-values">
      <h2 className="mb-2 text-base font-semibold">Recorded values</h2>
      <table className="w-full text-sm">
        <thead className="text-left text-slate-500"><tr><th className="py-1 pr-3 font-medium">Field</th><th className="py-1 pr-3 font-medium">Before</th><th className="py-1 font-medium">After</th></tr></thead>
        <tbody>
          {state.changes.map((c) => (
            <tr key={c.field} className="border-t border-slate-100 align-top">
              <td className="py-1 pr-3 font-mono text-xs">{c.field}</td>
              <td className="py-1 pr-3">{show(c.before)}</td>
              <td className="py-1">{show(c.after)}</td>
            </tr>
          ))}
          {state.changes.length === 0 && <tr><td colSpan={3} className="py-2 text-slate-500">No field changed.</td></tr>}
        </tbody>
      </table>
    </section>
  );
}
