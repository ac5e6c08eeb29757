import Link from 'next/link';
import type { RestrictedRow } from '@/lib/features/records';

/**
 * Patients outside the viewer's care team found by an emergency lookup: name, sex, date of birth
 * and MRN, enough to match a wristband, and the way to ask for emergency access. The rows carry
 * nothing else because the lookup returned nothing else.
 */
export function RestrictedRows({ rows }: { rows: RestrictedRow[] }) {
  return (
    <section aria-labelledby="outside-heading" className="overflow-hidden rounded-lg border-2 border-red-200 bg-white" data-testid="restricted-rows">
      <h2 id="outside-heading" className="bg-red-50 px-4 py-2 text-sm font-semibold text-red-800">Outside your care team</h2>
      <table className="w-full text-sm">
        <thead className="text-left text-slate-600">
          <tr>
            <th className="px-4 py-2">Name</th>
            <th className="px-4 py-2">Date of birth</th>
            <th className="px-4 py-2">MRN</th>
            <th className="px-4 py-2">Sex</th>
            <th className="px-4 py-2"><span className="sr-only">Access</span></th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.id} className="border-t border-slate-100" data-testid="restricted-row">
              <td className="px-4 py-2 font-medium">{row.name}</td>
              <td className="px-4 py-2">{row.dateOfBirth}</td>
              <td className="px-4 py-2 font-mono">{row.mrn}</td>
              <td className="px-4 py-2 capitalize">{row.sex}</td>
              <td className="px-4 py-2 text-right">
                <span className="mr-3 text-xs font-semibold uppercase tracking-wide text-red-800">Not on your care team</span>
                <Link href={`/patients/${row.id}/break-glass`} className="rounded-md bg-red-700 px-3 py-1.5 text-white hover:bg-red-800">
                  Request emergency access
                </Link>
              </td>
            </tr>
          ))}
          {rows.length === 0 && (
            <tr><td colSpan={5} className="px-4 py-4 text-center text-slate-600">No patient outside your care team matches exactly.</td></tr>
          )}
        </tbody>
      </table>
    </section>
  );
}
