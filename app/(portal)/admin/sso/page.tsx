import { AdminForm, SelectField, TextField } from '@/components/admin/admin-form';
import { AdminDenied, PageHeader, Panel, roleLabel, When } from '@/components/admin/page-parts';
import { hasAdminPermission } from '@/lib/domain/access/policy';
import { adminPermission } from '@/lib/domain/access/permission-names';
import { listRoles, listSsoMappings } from '@/lib/features/admin';
import { requireViewer } from '@/lib/features/auth/current';
import { ssoSetup } from '@/lib/features/auth/sso-provider';
import { addSsoMappingAction, removeSsoMappingAction } from './actions';

const confirmHint = 'Confirm with your own password (not needed within 5 minutes of your last sign-in or confirmation).';

export default async function SsoMappingsPage() {
  const viewer = await requireViewer();
  const [mappings, roles] = await Promise.all([listSsoMappings(viewer), listRoles(viewer)]);
  if (!mappings.ok || !roles.ok) return <AdminDenied />;
  const canEdit = hasAdminPermission(viewer, adminPermission.assignRoles);
  const setup = ssoSetup();

  return (
    <div className="max-w-4xl space-y-4">
      <PageHeader
        title="SSO groups"
        description={`Which groups of the hospital's identity provider give which Vigil role. Someone signing in with ${setup.label} gets exactly the roles their groups map to, at every sign-in; someone in no mapped group is refused. Accounts are created by an administrator first${setup.jit ? ' (or on first sign-in: just-in-time accounts are on)' : ''}.`}
      />
      <p className="text-sm text-slate-600" data-testid="sso-status">
        {setup.configured
          ? <>Identity provider: <code className="rounded bg-slate-100 px-1.5 py-0.5 text-xs">{setup.issuer}</code>, groups read from the <code className="rounded bg-slate-100 px-1.5 py-0.5 text-xs">{setup.groupsClaim}</code> claim.</>
          : 'No identity provider is configured (VIGIL_OIDC_ISSUER); mappings take effect once one is.'}
      </p>
      {canEdit && (
        <Panel title="Map a group to a role" testId="add-mapping-panel">
          <AdminForm action={addSsoMappingAction} submitLabel="Add mapping" testId="add-mapping-form" className="space-y-4">
            <TextField label="Group" name="claimValue" required maxLength={256} hint="Exactly as the identity provider sends it, e.g. “vigil-physicians” or a group's object id." />
            <SelectField label="Role" name="roleName" placeholder="Choose a role" options={roles.value.map((r) => ({ value: r.name, label: roleLabel(r.name) }))} />
            <TextField label="Your password" name="adminPassword" type="password" autoComplete="current-password" hint={confirmHint} />
          </AdminForm>
        </Panel>
      )}
      <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
        <table className="w-full text-sm" data-testid="sso-mappings">
          <thead className="bg-slate-100 text-left text-slate-600">
            <tr>
              <th className="px-4 py-2">Group</th>
              <th className="px-4 py-2">Role</th>
              <th className="px-4 py-2">Added</th>
              {canEdit && <th className="px-4 py-2"><span className="sr-only">Actions</span></th>}
            </tr>
          </thead>
          <tbody>
            {mappings.value.length === 0 && (
              <tr><td colSpan={4} className="px-4 py-3 text-slate-500">No group is mapped yet, so nobody can sign in with {setup.label}.</td></tr>
            )}
            {mappings.value.map((m) => (
              <tr key={`${m.claimValue}\u0000${m.roleName}`} data-group={m.claimValue} data-role={m.roleName} className="border-t border-slate-100 align-top">
                <td className="px-4 py-2 font-mono text-xs">{m.claimValue}</td>
                <td className="px-4 py-2">{roleLabel(m.roleName)}</td>
                <td className="px-4 py-2"><When iso={m.createdAt} /></td>
                {canEdit && (
                  <td className="px-4 py-2">
                    <AdminForm action={removeSsoMappingAction} hidden={{ claimValue: m.claimValue, roleName: m.roleName }} submitLabel={`Remove ${m.claimValue} → ${roleLabel(m.roleName)}`} tone="danger" testId="remove-mapping-form"
                      confirm={{ trigger: 'Remove…', prompt: `Members of ${m.claimValue} lose the ${roleLabel(m.roleName)} role at their next sign-in.` }} />
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
