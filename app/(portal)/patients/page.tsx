import Link from 'next/link';
import { requireViewer } from '@/lib/features/auth/current';
import { listPatients, type PatientList } from '@/lib/features/records';

/** A search that was refused lists nothing and says why. */
const nothingListed: PatientList = { rows: [], total: 0, page: 1, pageCount: 1, searchedBy: 'none', unavailable: 0 };

const searchHints: Record<string, string> = {
  mrn: 'by MRN',
  dob: 'by date of birth',
  last_name: 'by last name',
};

export default async function PatientsPage({ searchParams }: { searchParams: Promise<{ q?: string; page?: string }> }) {
  const viewer = await requireViewer();
  const params = await searchParams;
  const q = typeof params.q === 'string' ? params.q : '';
  const result = await listPatients(viewer, { q, page: params.page });
  const list = result.ok ? result.value : nothingListed;
  const problem = result.ok ? null : result.message;
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
          <input id="patient-search" name="q" defaultValue={q.slice(0, 100)} maxLength={100} placeholder="Last name, MRN or YYYY-MM-DD"
            aria-label="Search patients" className="w-72 rounded-md border border-slate-300 px-3 py-2 text-sm" />
          <button type="submit" className="rounded-md bg-calm px-4 py-2 text-sm text-white">Search</button>
        </form>
      </div>
      {problem && <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800">{problem}</p>}
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
