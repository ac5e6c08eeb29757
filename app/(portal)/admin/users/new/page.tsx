import { AdminForm, CheckboxGroup, TextField } from '@/components/admin/admin-form';
import { AdminDenied, PageHeader, Panel, roleLabel } from '@/components/admin/page-parts';
import { listRoles } from '@/lib/features/admin';
import { PASSWORD_MIN_LENGTH } from '@/lib/features/credentials/passwords';
import { requireViewer } from '@/lib/features/auth/current';
import { createUserAction } from '../actions';

export default async function NewUserPage() {
  const viewer = await requireViewer();
  const roles = await listRoles(viewer);
  if (!roles.ok) return <AdminDenied />;

  return (
    <div className="max-w-2xl space-y-4">
      <PageHeader title="Create user" back={{ href: '/admin/users', label: 'Users' }}
        description="The person signs in with this email and the temporary password you set; give it to them in person or by phone, never by email." />
      <Panel title="New account">
        <AdminForm action={createUserAction} submitLabel="Create user" testId="create-user-form" className="space-y-4">
          <TextField label="Email" name="email" type="email" required maxLength={254} autoComplete="off" />
          <TextField label="Name" name="displayName" required maxLength={100} hint="As colleagues know them, e.g. “Dr. Ada Quinlan”." autoComplete="off" />
          <div className="grid gap-4 md:grid-cols-2">
            <TextField label="Temporary password" name="password" type="password" required minLength={PASSWORD_MIN_LENGTH} maxLength={256}
              hint={`At least ${PASSWORD_MIN_LENGTH} characters.`} autoComplete="new-password" />
            <TextField label="Repeat the password" name="passwordConfirm" type="password" required autoComplete="new-password" />
          </div>
          <CheckboxGroup legend="Roles" name="roles"
            options={roles.value.map((r) => ({ value: r.name, label: roleLabel(r.name), description: r.description }))} />
          <TextField label="Your password" name="adminPassword" type="password" autoComplete="current-password"
            hint="Giving someone a role is a grant of access: confirm it with your own password (not needed within 5 minutes of your last sign-in or confirmation)." />
        </AdminForm>
      </Panel>
    </div>
  );
}
