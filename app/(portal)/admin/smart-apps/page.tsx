import { AdminForm, CheckboxGroup, TextArea, TextField } from '@/components/admin/admin-form';
import { AdminDenied, PageHeader, Panel, When } from '@/components/admin/page-parts';
import { adminPermission } from '@/lib/domain/access/permission-names';
import { hasAdminPermission } from '@/lib/domain/access/policy';
import { chartSections } from '@/lib/domain/access/roles';
import { requireViewer } from '@/lib/features/auth/current';
import { appScopeChoices, listSmartApps, type SmartAppSummary } from '@/lib/features/fhir';
import { registerBackendClientAction, registerSmartAppAction, revokeSmartAppAction } from './actions';

export const dynamic = 'force-dynamic';

const confirmHint = 'Confirm with your own password (not needed within 5 minutes of your last sign-in or confirmation).';

const scopeLabels: Record<(typeof appScopeChoices)[number], { label: string; description: string }> = {
  launch: { label: 'launch', description: 'EHR launch: the app appears on each chart and opens on that patient.' },
  'launch/patient': { label: 'launch/patient', description: 'Standalone launch: the user picks one of their patients.' },
  'patient/*.rs': { label: 'patient/*.rs', description: 'Read the launch patient’s chart, within the user’s role.' },
  'user/*.rs': { label: 'user/*.rs', description: 'Read any chart the user may open, within their role (and the audit trail, for those who review it).' },
  'user/AuditEvent.rs': { label: 'user/AuditEvent.rs', description: 'Search the audit trail, for users whose role reviews it; no chart.' },
  offline_access: { label: 'offline_access', description: 'A refresh token, valid while the user stays signed in.' },
  openid: { label: 'openid', description: 'An ID token that tells the app which Vigil user signed in.' },
  fhirUser: { label: 'fhirUser', description: 'With openid: the ID token names the user’s own Practitioner resource (their name and roles).' },
};

const sectionLabel = (s: string) => s.charAt(0).toUpperCase() + s.slice(1).replace(/_/g, ' ');

function Status({ app }: { app: SmartAppSummary }) {
  if (app.revokedAt) return <span className="text-slate-700">Revoked <When iso={app.revokedAt} /></span>;
  return <span className="rounded bg-green-100 px-2 py-0.5 text-xs font-medium text-green-800">Active</span>;
}

/** SMART apps and backend clients: who may connect to /fhir/R4, and with what. */
export default async function SmartAppsPage() {
  const viewer = await requireViewer();
  const apps = await listSmartApps(viewer);
  if (!apps.ok) return <AdminDenied />;
  const canRegister = hasAdminPermission(viewer, adminPermission.registerSmartApps);
  const canRevoke = hasAdminPermission(viewer, adminPermission.revokeSmartApps);

  return (
    <div className="max-w-5xl space-y-4">
      <PageHeader
        title="SMART apps"
        description="Apps that sign users in to the FHIR API (/fhir/R4) and backend clients that read it as themselves. Every read is audited and monitored; revoking an app refuses its tokens from their next request."
      />
      <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
        <table className="w-full text-sm" data-testid="smart-apps-table">
          <thead className="bg-slate-100 text-left text-slate-600">
            <tr>
              <th className="px-4 py-2">App</th>
              <th className="px-4 py-2">Kind</th>
              <th className="px-4 py-2">May read</th>
              <th className="px-4 py-2">Registered</th>
              <th className="px-4 py-2">Status</th>
              {canRevoke && <th className="px-4 py-2"><span className="sr-only">Actions</span></th>}
            </tr>
          </thead>
          <tbody>
            {apps.value.length === 0 && <tr><td colSpan={6} className="px-4 py-3 text-slate-500">No SMART apps yet.</td></tr>}
            {apps.value.map((app) => (
              <tr key={app.clientId} data-client-id={app.clientId} className="border-t border-slate-100 align-top">
                <td className="px-4 py-2 font-medium">
                  {app.name}
                  <span className="block font-mono text-xs font-normal text-slate-500">{app.clientId}</span>
                  {app.redirectUris.map((uri) => <span key={uri} className="block break-all text-xs font-normal text-slate-500">→ {uri}</span>)}
                </td>
                <td className="px-4 py-2">{app.kind === 'backend' ? 'Backend client' : app.launchUrl ? 'App (chart launch)' : 'App'}</td>
                <td className="px-4 py-2 text-xs">
                  {app.kind === 'backend'
                    ? `${app.grantedSections.map(sectionLabel).join(', ')} of ${app.grantedPatients.length} patient${app.grantedPatients.length === 1 ? '' : 's'}`
                    : app.scopes.join(' ')}
                </td>
                <td className="px-4 py-2">
                  {app.source === 'environment' ? <span className="text-slate-500">VIGIL_SMART_APPS</span> : <><When iso={app.createdAt} /><span className="block text-xs text-slate-500">{app.createdBy ?? 'Unknown'}</span></>}
                </td>
                <td className="px-4 py-2"><Status app={app} /></td>
                {canRevoke && (
                  <td className="px-4 py-2">
                    {app.source === 'admin' && !app.revokedAt && (
                      <AdminForm action={revokeSmartAppAction} hidden={{ clientId: app.clientId }} submitLabel={`Revoke ${app.name}`} tone="danger" testId="revoke-smart-app"
                        confirm={{ trigger: 'Revoke…', prompt: `Revoke ${app.name}? Its tokens are refused from their next request${app.kind === 'backend' ? ' and its service account is disabled' : ''}.` }}>
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
      {canRegister && (
        <div className="grid gap-4 md:grid-cols-2">
          <Panel title="Register an app" testId="register-app-panel">
            <AdminForm action={registerSmartAppAction} submitLabel="Register app" testId="register-app-form" className="space-y-4">
              <TextField label="Client id" name="clientId" required minLength={3} maxLength={64} hint="The app's public client id, as its vendor configured it." />
              <TextField label="Name" name="name" required minLength={3} maxLength={100} hint="What users see on the consent page and the chart." />
              <TextArea label="Redirect URIs" name="redirectUris" rows={2} hint="One per line, exactly as the app sends them." />
              <TextField label="Launch URL (optional)" name="launchUrl" type="url" hint="Where a launch from the chart opens the app. Needed for the launch scope." />
              <CheckboxGroup legend="Scopes it may be granted" name="scopes" options={appScopeChoices.map((s) => ({ value: s, ...scopeLabels[s] }))} defaultValues={['launch/patient', 'patient/*.rs']} />
              <TextField label="Your password" name="adminPassword" type="password" autoComplete="current-password" hint={confirmHint} />
            </AdminForm>
          </Panel>
          <Panel title="Register a backend client" testId="register-backend-panel">
            <AdminForm action={registerBackendClientAction} submitLabel="Register backend client" testId="register-backend-form" className="space-y-4">
              <TextField label="Client id" name="clientId" required minLength={3} maxLength={64} hint="The iss and sub of the client's signed assertions." />
              <TextField label="Name" name="name" required minLength={3} maxLength={100} hint="Who runs it, e.g. “Quality registry export”. No patient details." />
              <TextArea label="Public JWK Set" name="jwks" rows={5} hint='{"keys": [...]} with RS384 or ES384 public keys. Never paste a private key.' />
              <TextArea label="Patients (MRNs)" name="patientMrns" rows={3} hint="One MRN per line: the only patients it may read." />
              <CheckboxGroup legend="Chart sections it may read" name="sections" options={chartSections.map((s) => ({ value: s, label: sectionLabel(s) }))} defaultValues={['demographics']} />
              <TextField label="Your password" name="adminPassword" type="password" autoComplete="current-password" hint={confirmHint} />
            </AdminForm>
          </Panel>
        </div>
      )}
    </div>
  );
}
