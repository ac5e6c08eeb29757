import { redirect } from 'next/navigation';
import { z } from 'zod';
import { hasAuditPermission } from '@/lib/domain/access/policy';
import { requireViewer } from '@/lib/features/auth/current';
import { auditPermission } from '@/lib/domain/access/permission-names';
import { firstParam } from '../format';

/** Asks for the patient whose accounting of disclosures to prepare. */
export default async function DisclosuresIndexPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const viewer = await requireViewer();
  if (!hasAuditPermission(viewer, auditPermission.disclosures)) {
    return <p role="alert" className="text-sm text-red-700">You do not have access to disclosure reports.</p>;
  }
  const patient = firstParam((await searchParams).patient)?.trim().toLowerCase();
  const valid = patient ? z.string().uuid().safeParse(patient).success : false;
  if (patient && valid) redirect(`/admin/audit/disclosures/${patient}`);
  return (
    <div className="max-w-xl space-y-4">
      <h1 className="text-xl font-semibold">Accounting of disclosures</h1>
      <p className="text-sm text-slate-600">
        Every recorded access to one patient’s record — who, their role, when, what, the outcome and why — for a patient’s
        request under HIPAA. Enter the patient id (shown on audit entries and in the records system).
      </p>
      <form method="get" className="flex items-end gap-2 text-sm">
        <label className="flex flex-1 flex-col gap-1">
          <span className="text-slate-600">Patient id</span>
          <input name="patient" defaultValue={patient ?? ''} maxLength={40} required className="rounded-md border border-slate-300 px-2 py-1.5 font-mono" />
        </label>
        <button type="submit" className="rounded-md bg-calm px-4 py-1.5 text-white">Prepare report</button>
      </form>
      {patient && !valid && <p role="alert" className="text-sm text-red-700">That is not a patient id. Copy it from an audit entry.</p>}
    </div>
  );
}
