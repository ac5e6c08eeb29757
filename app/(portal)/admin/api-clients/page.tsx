import { AdminForm, TextArea, TextField } from '@/components/admin/admin-form';
import { AdminDenied, PageHeader, Panel, When } from '@/components/admin/page-parts';
import { hasAdminPermission } from '@/lib/domain/access/policy';
import { adminPermission } from '@/lib/domain/access/permission-names';
import { listApiClients } from '@/lib/features/devices/api-clients';
import { requireViewer } from '@/lib/features/auth/current';
import { issueApiClientAction, revokeApiClientAction, setApiClientPatientsAction } from './actions';

const confirmHint = 'Confirm with your own password (not needed within 5 minutes of your last sign-in or confirmation).';

export default async function ApiClientsPage() {
  const viewer = await requireViewer();
  const clients = await listApiClients(viewer);
  if (!clients.ok) return <AdminDenied />;
  // The buttons follow the permissions; lib/features/devices checks them again on every change.
  const canIssue = hasAdminPermission(viewer, adminPermission.issueApiClients);
  const canRevoke = hasAdminPermission(viewer, adminPermission.revokeApiClients);
  const canScope = hasAdminPermission(viewer, adminPermission.scopeApiClients);
  const active = clients.value.filter((c) => !c.revokedAt).length;

  return (
    <div className="max-w-5xl space-y-4">
      <PageHeader
        title="API clients"
        description={`Device feeds that post vitals to POST /api/phi/vitals, each with its own credential and signing key, each writing only into the charts of the patients it serves. ${clients.value.length} issued, ${active} active. Vigil stores only a hash of each secret and the public half of each key; a revoked client is refused from its next request.`}
      />
      {canIssue && (
        <Panel title="Issue a client" testId="issue-panel">
          <AdminForm action={issueApiClientAction} submitLabel="Issue client" testId="issue-form" className="space-y-4">
            <TextField label="Name" name="name" required minLength={3} maxLength={100} hint="Where the feed comes from, e.g. “Ward 3 bedside monitors”. No patient details." />
            <TextArea label="Device signing key" name="signingKey" rows={3} hint="The public key the devices sign each reading with, as a JWK (Ed25519 or P-256), from the device vendor’s configuration. Never the private key." />
            <TextArea label="Patients served" name="patients" rows={4} hint="The MRNs of the patients this feed may write vitals for, one per line (up to 500). You can change the list later." />
            <TextField label="Your password" name="adminPassword" type="password" autoComplete="current-password" hint={confirmHint} />
          </AdminForm>
        </Panel>
      )}
      <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
        <table className="w-full text-sm" data-testid="api-clients-table">
          <thead className="bg-slate-100 text-left text-slate-600">
            <tr>
              <th className="px-4 py-2">Name</th>
              <th className="px-4 py-2">Created</th>
              <th className="px-4 py-2">Created by</th>
              <th className="px-4 py-2">Serves</th>
              <th className="px-4 py-2">Status</th>
              {canRevoke && <th className="px-4 py-2"><span className="sr-only">Actions</span></th>}
            </tr>
          </thead>
          <tbody>
            {clients.value.length === 0 && (
              <tr><td colSpan={6} className="px-4 py-3 text-slate-500">No API clients yet.</td></tr>
            )}
            {clients.value.map((client) => (
              <tr key={client.id} data-client-id={client.id} data-status={client.revokedAt ? 'revoked' : 'active'} className="border-t border-slate-100 align-top">
                <td className="px-4 py-2 font-medium">{client.name}<span className="block font-mono text-xs font-normal text-slate-500">{client.id}</span></td>
                <td className="px-4 py-2"><When iso={client.createdAt} /></td>
                <td className="px-4 py-2">{client.createdBy ?? <span className="text-slate-500">Unknown</span>}</td>
                <td className="px-4 py-2" data-testid="served-count">
                  {client.patients === 1 ? '1 patient' : `${client.patients} patients`}
                  {!client.signed && <span className="block text-xs text-amber-800">No signing key: every reading is refused. Issue a new client.</span>}
                  {canScope && !client.revokedAt && (
                    <AdminForm action={setApiClientPatientsAction} hidden={{ clientId: client.id }} submitLabel="Save patients" testId="scope-form"
                      confirm={{ trigger: 'Change patients…', prompt: `Replace the patients ${client.name} serves. Readings for anyone not on the new list are refused from its next request.` }}>
                      <TextArea label="Patients served (MRNs, one per line)" name="patients" rows={4} hint="The whole list: it replaces the current one." />
                      <TextField label="Your password" name="adminPassword" type="password" autoComplete="current-password" hint={confirmHint} />
                    </AdminForm>
                  )}
                </td>
                <td className="px-4 py-2">
                  {client.revokedAt ? (
                    <span className="text-slate-700">Revoked <When iso={client.revokedAt} /></span>
                  ) : (
                    <span className="rounded bg-green-100 px-2 py-0.5 text-xs font-medium text-green-800">Active</span>
                  )}
                </td>
                {canRevoke && (
                  <td className="px-4 py-2">
                    {!client.revokedAt && (
                      <AdminForm action={revokeApiClientAction} hidden={{ clientId: client.id }} submitLabel={`Revoke ${client.name}`} tone="danger" testId="revoke-form"
                        confirm={{ trigger: 'Revoke…', prompt: `Revoke ${client.name}? Its next request to Vigil is refused; the devices need a new credential to send vitals again.` }}>
                        <TextField label="Your password" name="adminPassword" type="password" autoComplete="current-password" hint={confirmHint} />
                      </AdminForm>
                    )}
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
