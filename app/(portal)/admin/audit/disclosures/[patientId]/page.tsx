import Link from 'next/link';
import { requireViewer } from '@/lib/features/auth/current';
import { accountingOfDisclosures } from '@/lib/features/audit-review/disclosures';
import { formatInstant } from '../../format';
import { PrintButton } from '../print-button';
import './print.css';

/**
 * The printable accounting of disclosures for one patient. Preparing it is recorded against the
 * patient (it appears as the report's last line). It names the patient by id only: privacy
 * officers do not read demographics, and the records system matches the id to the person.
 */
export default async function DisclosureReportPage({ params }: { params: Promise<{ patientId: string }> }) {
  const viewer = await requireViewer();
  const { patientId } = await params;
  const result = await accountingOfDisclosures(viewer, { patientId });
  if (!result.ok) return <p role="alert" className="text-sm text-red-700">{result.message}</p>;
  const report = result.value;
  return (
    <article className="space-y-4" data-testid="disclosure-report" data-print="disclosure-report">
      <div className="flex items-baseline justify-between gap-4">
        <div>
          <h1 className="text-xl font-semibold">Accounting of disclosures</h1>
          <p className="text-sm text-slate-600">
            Patient <span className="font-mono">{report.patientId}</span> · prepared {formatInstant(report.generatedAt)} by {viewer.displayName}
          </p>
        </div>
        <div className="flex items-center gap-3" data-print-hidden>
          <Link href="/admin/audit/disclosures" className="text-sm text-calm hover:underline">Another patient</Link>
          <PrintButton />
        </div>
      </div>
      <p className="text-sm text-slate-600">
        Every recorded access to this patient’s record, oldest first: chart views (with the sections shown), appearances in a
        clinician’s patient list or search results, changes, refused attempts, emergency access with its stated reason, and
        privacy reviews. Times are UTC.
      </p>
      {report.truncated && <p role="alert" className="text-sm text-amber-800">The report shows the first {report.rows.length} accesses only.</p>}
      <table className="w-full border border-slate-200 bg-white text-sm">
        <thead className="bg-slate-100 text-left text-slate-600">
          <tr>{['When (UTC)', 'Who', 'Role', 'What', 'Outcome', 'Why'].map((h) => <th key={h} className="px-3 py-2 font-medium">{h}</th>)}</tr>
        </thead>
        <tbody>
          {report.rows.map((r) => (
            <tr key={r.seq} className="border-t border-slate-100 align-top" data-seq={r.seq} data-action={r.action}>
              <td className="whitespace-nowrap px-3 py-2">{formatInstant(r.at).replace(' UTC', '')}</td>
              <td className="px-3 py-2">{r.who}{r.email && <span className="block text-xs text-slate-500">{r.email}</span>}</td>
              <td className="px-3 py-2">{r.role}</td>
              <td className="px-3 py-2">{r.what}</td>
              <td className={`px-3 py-2 ${r.outcome === 'denied' ? 'text-red-700' : ''}`}>{r.outcome === 'denied' ? 'Refused' : 'Allowed'}</td>
              <td className="px-3 py-2">{r.why}</td>
            </tr>
          ))}
          {report.rows.length === 0 && <tr><td colSpan={6} className="px-3 py-6 text-center text-slate-500">No recorded access.</td></tr>}
        </tbody>
      </table>
    </article>
  );
}
