import Link from 'next/link';
import { requireViewer } from '@/lib/features/auth/current';
import { canBreakGlass } from '@/lib/domain/access/policy';
import { emergencyLookup, listPatients, type PatientList } from '@/lib/features/records';
import { RestrictedRows } from '@/components/patients/restricted-rows';
import { SearchShortcut } from '@/components/patients/search-shortcut';

/** A search that was refused lists nothing and says why. */
const nothingListed: PatientList = { rows: [], total: 0, page: 1, pageCount: 1, searchedBy: 'none', unavailable: 0, recent: [] };

const searchHints: Record<string, string> = {
  mrn: 'by MRN',
  dob: 'by date of birth',
  last_name: 'by last name',
  last_name_dob: 'by last name and date of birth',
};

export default async function PatientsPage({ searchParams }: { searchParams: Promise<{ q?: string; page?: string }> }) {
  const viewer = await requireViewer();
  const params = await searchParams;
  const q = typeof params.q === 'string' ? params.q : '';
  const result = await listPatients(viewer, { q, page: params.page });
  const list = result.ok ? result.value : nothingListed;
  const problem = result.ok ? null : result.message;
  // Only a clinician who may ask for emergency access looks beyond their own patients, and only by exact identifiers.
  const outside = q.trim() && canBreakGlass(viewer) ? await emergencyLookup(viewer, { q }) : null;
  const pageHref = (page: number) => `/patients?${new URLSearchParams({ ...(q ? { q } : {}), page: String(page) })}`;

  return (
    <div className="space-y-4">
      <div className="flex items-end justify-between gap-4">
        <div>
          <h1 className="text-xl font-semibold">My patients</h1>
          <p className="text-sm text-slate-500">Patients on your care teams{list.searchedBy !== 'none' ? `, searched ${searchHints[list.searchedBy]}` : ''}.</p>
        </div>
        <form className="flex gap-2" role="search">
          <label className="sr-only" htmlFor="patient-search">Search patients</label>
          <input id="patient-search" name="q" defaultValue={q.slice(0, 100)} maxLength={100} placeholder="MRN, last name, or last name and YYYY-MM-DD"
            aria-keyshortcuts="/" aria-describedby="search-shortcut" className="w-80 rounded-md border border-slate-300 px-3 py-2 text-sm" />
          <button type="submit" className="rounded-md bg-calm px-4 py-2 text-sm text-white">Search</button>
        </form>
        <SearchShortcut inputId="patient-search" />
      </div>
      <p id="search-shortcut" className="sr-only">Press slash to search from anywhere on this page.</p>
      {problem && <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800">{problem}</p>}
      {/* "None outside" is worth saying only when the viewer's own list found no one either. */}
      {outside?.ok && (outside.value.rows.length > 0 || list.rows.length === 0) && <RestrictedRows rows={outside.value.rows} />}
      {outside && !outside.ok && outside.error === 'too_broad' && (
        <p className="rounded-md bg-slate-100 px-3 py-2 text-sm text-slate-700" data-testid="outside-refused">{outside.message}</p>
      )}
      {list.recent.length > 0 && (
        <nav aria-label="Recently viewed" data-testid="recently-viewed" className="flex flex-wrap items-center gap-2 text-sm">
          <span className="font-medium text-slate-700">Recently viewed</span>
          {list.recent.map((row) => (
            <Link key={row.id} href={`/patients/${row.id}`} className="rounded-full border border-slate-300 bg-white px-3 py-1 text-calm hover:bg-calm-light">
              {row.name} <span className="font-mono text-xs text-slate-600">{row.mrn}</span>
            </Link>
          ))}
        </nav>
      )}
      <div className="overflow-hidden rounded-lg border border-slate-200 bg-white">
        <table className="w-full text-sm">
          <thead className="bg-slate-100 text-left text-slate-600">
            <tr>
              <th className="px-4 py-2">Name</th>
              <th className="px-4 py-2">Date of birth</th>
              <th className="px-4 py-2">MRN</th>
              <th className="px-4 py-2">Sex</th>
              <th className="px-4 py-2">Access</th>
            </tr>
          </thead>
          <tbody>
            {list.rows.map((row) => (
              <tr key={row.id} className="border-t border-slate-100 hover:bg-calm-light">
                <td className="px-4 py-2"><Link href={`/patients/${row.id}`} className="font-medium text-calm hover:underline">{row.name}</Link></td>
                <td className="px-4 py-2">{row.dateOfBirth}</td>
                <td className="px-4 py-2 font-mono">{row.mrn}</td>
                <td className="px-4 py-2 capitalize">{row.sex}</td>
                <td className="px-4 py-2">{row.access === 'care_team' ? 'Care team' : <span className="font-semibold text-red-700">Emergency access</span>}</td>
              </tr>
            ))}
            {list.rows.length === 0 && (
              <tr><td colSpan={5} className="px-4 py-6 text-center text-slate-500">No patients found.</td></tr>
            )}
          </tbody>
        </table>
      </div>
      <nav className="flex items-center justify-between text-sm text-slate-600" aria-label="Pages">
        <span>{list.total} patient{list.total === 1 ? '' : 's'} · page {list.page} of {list.pageCount}</span>
        <span className="flex gap-3">
          {list.page > 1 && <Link href={pageHref(list.page - 1)}>Previous</Link>}
          {list.page < list.pageCount && <Link href={pageHref(list.page + 1)}>Next</Link>}
        </span>
      </nav>
    </div>
  );
}
