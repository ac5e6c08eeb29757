import Link from 'next/link';
import { notFound } from 'next/navigation';
import { AdminForm, CheckboxGroup, SelectField, TextField } from '@/components/admin/admin-form';
import { AdminDenied, PageHeader, Panel, roleLabel, StatusBadge, TamperedRoles, When } from '@/components/admin/page-parts';
import { assignmentsOf, disableReasons, getUser, listRoles } from '@/lib/features/admin';
import { PASSWORD_MIN_LENGTH } from '@/lib/features/credentials/passwords';
import { requireViewer } from '@/lib/features/auth/current';
import { removeAssignmentAction } from '../../care-teams/actions';
import { resetPasswordAction, setDisabledAction, setRolesAction } from '../actions';

const confirmHint = 'Confirm with your own password (not needed within 5 minutes of your last sign-in or confirmation).';

export default async function UserPage({ params }: { params: Promise<{ id: string }> }) {
  const viewer = await requireViewer();
  const { id } = await params;
  const user = await getUser(viewer, id);
  if (!user.ok) {
    if (user.error === 'denied') return <AdminDenied />;
    notFound();
  }
  const [roles, assignments] = await Promise.all([listRoles(viewer), assignmentsOf(viewer, id)]);
  const u = user.value;
  const self = u.id === viewer.userId;
  const hidden = { userId: u.id };

  return (
    <div className="max-w-3xl space-y-4" data-testid="user-detail" data-email={u.email}>
      <PageHeader title={u.displayName} back={{ href: '/admin/users', label: 'Users' }} description={u.email} />

      <Panel title="Account">
        <dl className="grid grid-cols-2 gap-x-6 gap-y-1 text-sm md:grid-cols-4">
          <dt className="text-slate-500">Status</dt><dd><StatusBadge status={u.status} /></dd>
          <dt className="text-slate-500">Roles</dt><dd data-testid="user-roles">{u.roles.map(roleLabel).join(', ') || 'No role'}{u.tamperedRoles.length > 0 && <TamperedRoles names={u.tamperedRoles} />}</dd>
          <dt className="text-slate-500">Last sign-in</dt><dd><When iso={u.lastSignInAt} /></dd>
          <dt className="text-slate-500">Created</dt><dd><When iso={u.createdAt} /></dd>
          <dt className="text-slate-500">Authenticator app</dt><dd>{u.mfaEnrolled ? 'Enrolled' : 'Not enrolled'}</dd>
          {u.disabledAt && (<><dt className="text-slate-500">Disabled</dt><dd><When iso={u.disabledAt} /> · {disableReasons[u.disabledReason as keyof typeof disableReasons] ?? 'No reason given'}</dd></>)}
        </dl>
      </Panel>

      {self && (
        <p className="rounded-md border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900" data-testid="self-notice">
          This is your own account. You cannot change your own roles, disable yourself or reset your own password here: ask another administrator.
        </p>
      )}

      {!self && roles.ok && (
        <Panel title="Roles" testId="roles-panel">
          <AdminForm action={setRolesAction} hidden={hidden} submitLabel="Save roles" testId="roles-form" className="space-y-4">
            <CheckboxGroup legend="This person holds" name="roles" defaultValues={u.roles}
              options={roles.value.map((r) => ({ value: r.name, label: roleLabel(r.name), description: r.description }))} />
            <TextField label="Your password" name="adminPassword" type="password" autoComplete="current-password" hint={confirmHint} />
          </AdminForm>
        </Panel>
      )}

      {!self && (
        <Panel title={u.disabledAt ? 'Enable account' : 'Disable account'} testId="status-panel">
          {u.disabledAt ? (
            <AdminForm action={setDisabledAction} hidden={{ ...hidden, disabled: 'false' }} submitLabel="Enable account" testId="enable-form">
              <p className="text-sm text-slate-600">The person can sign in again with their current password and gets back the access their roles grant.</p>
              <TextField label="Your password" name="adminPassword" type="password" autoComplete="current-password" hint={confirmHint} />
            </AdminForm>
          ) : (
            <AdminForm action={setDisabledAction} hidden={{ ...hidden, disabled: 'true' }} submitLabel={`Disable ${u.email}`} tone="danger" testId="disable-form"
              confirm={{ trigger: 'Disable account…', prompt: `Disable ${u.email}? Every open session ends at once and they cannot sign in until an administrator enables the account again.` }}>
              <SelectField label="Reason" name="reason" placeholder="Choose a reason"
                options={Object.entries(disableReasons).map(([value, label]) => ({ value, label }))} />
            </AdminForm>
          )}
        </Panel>
      )}

      {!self && (
        <Panel title="Reset password" testId="reset-panel">
          <AdminForm action={resetPasswordAction} hidden={hidden} submitLabel="Set new password" testId="reset-form" className="space-y-4">
            <p className="text-sm text-slate-600">For someone who lost their password. Their open sessions end; give them the new one in person.</p>
            <div className="grid gap-4 md:grid-cols-2">
              <TextField label="New password" name="password" type="password" required minLength={PASSWORD_MIN_LENGTH} maxLength={256}
                hint={`At least ${PASSWORD_MIN_LENGTH} characters.`} autoComplete="new-password" />
              <TextField label="Repeat the new password" name="passwordConfirm" type="password" required autoComplete="new-password" />
            </div>
            <TextField label="Your password" name="adminPassword" type="password" autoComplete="current-password" hint="Required: a reset hands you this account." />
          </AdminForm>
        </Panel>
      )}

      {assignments.ok && (
        <Panel title={`Care-team assignments (${assignments.value.length})`} testId="assignments-panel">
          {assignments.value.length === 0 ? (
            <p className="text-sm text-slate-500">On no care team.</p>
          ) : (
            <table className="w-full text-sm">
              <thead className="text-left text-slate-500">
                <tr><th className="py-1 pr-3 font-medium">Patient</th><th className="py-1 pr-3 font-medium">Relationship</th><th className="py-1 pr-3 font-medium">Since</th><th /></tr>
              </thead>
              <tbody>
                {assignments.value.map((a) => (
                  <tr key={a.assignmentId} className="border-t border-slate-100">
                    <td className="py-1 pr-3 font-mono text-xs"><Link href={`/admin/care-teams?patient=${a.patientId}`} className="text-calm hover:underline">{a.patientId}</Link></td>
                    <td className="py-1 pr-3 capitalize">{a.relationship}{a.tampered && <span className="ml-2 text-xs normal-case text-red-700" data-testid="tampered-assignment">(altered outside Vigil: opens no chart)</span>}</td>
                    <td className="py-1 pr-3"><When iso={a.fromAt} /></td>
                    <td className="py-1 text-right">
                      {!self && <AdminForm action={removeAssignmentAction} hidden={{ assignmentId: a.assignmentId }} submitLabel="Remove" tone="quiet" className="inline-flex items-center gap-2" />}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Panel>
      )}
    </div>
  );
}
