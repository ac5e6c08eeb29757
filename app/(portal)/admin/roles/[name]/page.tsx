import { notFound } from 'next/navigation';
import { AdminForm, TextArea, TextField } from '@/components/admin/admin-form';
import { AdminDenied, PageHeader, Panel, roleLabel } from '@/components/admin/page-parts';
import { describeKnownAreas } from '@/lib/domain/access/admin-rules';
import { permissionCategories } from '@/lib/domain/access/permissions';
import { getRole } from '@/lib/features/admin';
import { requireViewer } from '@/lib/features/auth/current';
import { updateRoleAction } from '../actions';
import { categoryLabels } from '../labels';

export default async function EditRolePage({ params }: { params: Promise<{ name: string }> }) {
  const viewer = await requireViewer();
  const { name } = await params;
  const role = await getRole(viewer, name);
  if (!role.ok) {
    if (role.error === 'denied') return <AdminDenied />;
    notFound();
  }
  const r = role.value;
  const held = viewer.roles.includes(r.name);

  return (
    <div className="max-w-3xl space-y-4">
      <PageHeader title={`Edit role: ${roleLabel(r.name)}`} back={{ href: '/admin/roles', label: 'Roles' }} description={r.description} />
      {held ? (
        <p className="rounded-md border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900" data-testid="self-notice">
          You hold this role. Changing it would change your own access, so another administrator must do it.
        </p>
      ) : (
        <Panel title="Permissions">
          <p className="mb-4 text-sm text-slate-600">
            One pattern per line. A pattern is dot-separated lower-case names; a final <code>.*</code> covers everything below it
            (<code>patient.*</code> is every chart section). {r.holders} {r.holders === 1 ? 'person holds' : 'people hold'} this role.
          </p>
          <AdminForm action={updateRoleAction} hidden={{ name: r.name, expectedUpdatedAt: r.updatedAt }} submitLabel="Save permissions" testId="role-form" className="space-y-4">
            {permissionCategories.map((c) => (
              <TextArea key={c} label={categoryLabels[c].title} name={c} rows={Math.max(2, (r.permissions[c]?.length ?? 0) + 1)}
                hint={`${categoryLabels[c].meaning} Known: ${describeKnownAreas(c)}.`} defaultValue={(r.permissions[c] ?? []).join('\n')} />
            ))}
            <TextField label="Your password" name="adminPassword" type="password" autoComplete="current-password"
              hint="Adding a permission is a grant of access: confirm it with your own password (not needed within 5 minutes of your last sign-in or confirmation)." />
          </AdminForm>
        </Panel>
      )}
    </div>
  );
}
