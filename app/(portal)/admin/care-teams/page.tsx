import Link from 'next/link';
import { AdminForm, SelectField, TextField } from '@/components/admin/admin-form';
import { AdminDenied, PageHeader, Panel, roleLabel, When } from '@/components/admin/page-parts';
import { careTeamRelationships, relationshipRoles } from '@/lib/domain/access/care-team';
import { assignableStaff, careTeamOf } from '@/lib/features/admin';
import { requireViewer } from '@/lib/features/auth/current';
import { assignAction, findPatientAction, removeAssignmentAction } from './actions';

/**
 * Care teams, one patient at a time. The admin names the patient by MRN (from the admission
 * paperwork); the page then shows the patient's id and MRN — nothing else about them — and the
 * staff on the team. Both lookups are audited in lib/features/records/lookup.ts.
 */
export default async function CareTeamsPage({ searchParams }: { searchParams: Promise<{ patient?: string }> }) {
  const viewer = await requireViewer();
  const { patient } = await searchParams;
  const staff = await assignableStaff(viewer);
  if (!staff.ok) return <AdminDenied />;
  const team = typeof patient === 'string' ? await careTeamOf(viewer, patient) : null;

  return (
    <div className="max-w-4xl space-y-4">
      <PageHeader title="Care teams"
        description="A care-team assignment opens a patient’s chart to a staff member, through the lens of their role. Remove people when they stop treating the patient." />

      <Panel title="Find a patient">
        <AdminForm action={findPatientAction} submitLabel="Find" testId="find-patient-form" className="flex items-end gap-3">
          <TextField label="Medical record number (MRN)" name="mrn" required maxLength={32} autoComplete="off" />
        </AdminForm>
      </Panel>

      {team && !team.ok && (
        <p role="alert" className="text-sm text-red-700">That patient could not be found. Look them up by MRN again.</p>
      )}

      {team?.ok && (
        <Panel title={`Care team of MRN ${team.value.patient.mrn}`} testId="care-team">
          <p className="mb-3 text-xs text-slate-500">Patient id <span className="font-mono" data-testid="patient-id">{team.value.patient.patientId}</span></p>
          {team.value.members.length === 0 ? (
            <p className="text-sm text-slate-500">Nobody is on this patient’s care team.</p>
          ) : (
            <table className="w-full text-sm">
              <thead className="text-left text-slate-500">
                <tr><th className="py-1 pr-3 font-medium">Staff member</th><th className="py-1 pr-3 font-medium">Relationship</th><th className="py-1 pr-3 font-medium">Since</th><th /></tr>
              </thead>
              <tbody>
                {team.value.members.map((m) => (
                  <tr key={m.assignmentId} className="border-t border-slate-100" data-email={m.email}>
                    <td className="py-1 pr-3"><Link href={`/admin/users/${m.userId}`} className="text-calm hover:underline">{m.displayName}</Link> <span className="text-slate-500">{m.email}</span></td>
                    <td className="py-1 pr-3 capitalize">{m.relationship}{m.tampered && <span className="ml-2 text-xs normal-case text-red-700" data-testid="tampered-assignment">(altered outside Vigil: opens no chart)</span>}</td>
                    <td className="py-1 pr-3"><When iso={m.fromAt} /></td>
                    <td className="py-1 text-right">
                      {m.userId !== viewer.userId && <AdminForm action={removeAssignmentAction} hidden={{ assignmentId: m.assignmentId }} submitLabel="Remove" tone="quiet" className="inline-flex items-center gap-2" />}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}

          <h3 className="mb-2 mt-5 text-sm font-semibold">Add someone to this care team</h3>
          <AdminForm action={assignAction} hidden={{ patientId: team.value.patient.patientId }} submitLabel="Add to care team" testId="assign-form" className="grid items-end gap-3 md:grid-cols-[2fr_1fr_auto]">
            <SelectField label="Staff member" name="userId" placeholder="Choose a person"
              options={staff.value.filter((s) => s.id !== viewer.userId).map((s) => ({ value: s.id, label: `${s.displayName} — ${s.email} (${s.roles.map(roleLabel).join(', ')})` }))} />
            <SelectField label="Relationship" name="relationship" placeholder="Choose"
              options={careTeamRelationships.map((r) => ({ value: r, label: `${roleLabel(r)} (${relationshipRoles[r].map(roleLabel).join(' or ')})` }))} />
          </AdminForm>
        </Panel>
      )}
    </div>
  );
}
