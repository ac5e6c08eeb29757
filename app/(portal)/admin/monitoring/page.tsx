import { AdminForm, SelectField, TextField } from '@/components/admin/admin-form';
import { AdminDenied, PageHeader, Panel, When } from '@/components/admin/page-parts';
import { getMonitorSettings, monitorSettingGroups, type MonitorField, type MonitorSettingGroup } from '@/lib/features/admin/monitor-settings';
import { requireViewer } from '@/lib/features/auth/current';
import { updateMonitorSettingsAction } from './actions';

const groups = Object.keys(monitorSettingGroups) as MonitorSettingGroup[];
const format = (n: number) => n.toLocaleString('en-US');
const range = (f: MonitorField) => (f.kind === 'number' ? `${f.integer ? 'Whole number' : 'Number'} from ${format(f.min)} to ${format(f.max)}.` : '');
const shown = (f: MonitorField) =>
  f.kind === 'number' ? (f.value === null ? 'Baseline for other roles' : format(f.value)) : f.kind === 'switch' ? (f.value === 'on' ? 'On' : 'Off') : f.value;

function EditableField({ field }: { field: MonitorField }) {
  if (field.kind === 'switch') {
    return <SelectField label={field.label} name={field.name} defaultValue={field.value} options={[{ value: 'on', label: 'On' }, { value: 'off', label: 'Off' }]} />;
  }
  if (field.kind === 'text') return <TextField label={field.label} name={field.name} defaultValue={field.value} hint={field.hint} required maxLength={64} />;
  // No min/max attributes: the server's message names the field and its range, which the
  // browser's own bubble would not; step "any" so a decimal reaches that message too.
  return (
    <TextField label={field.label} name={field.name} type="number" step="any" inputMode="decimal"
      defaultValue={field.value === null ? '' : String(field.value)} hint={[field.hint, range(field)].filter(Boolean).join(' ')} />
  );
}

/** The access monitor's thresholds: administrators edit them, privacy officers read them. */
export default async function MonitoringSettingsPage() {
  const viewer = await requireViewer();
  const settings = await getMonitorSettings(viewer);
  if (!settings.ok) return <AdminDenied />;
  const { canEdit, fields, source, updatedAt, updatedBy, version } = settings.value;
  const inGroup = (group: MonitorSettingGroup) => fields.filter((f) => f.group === group);

  return (
    <div className="max-w-4xl space-y-4">
      <PageHeader
        title="Monitoring thresholds"
        description="When record access opens an incident. A CRITICAL incident disables the account at once and alerts privacy officers; every change here is audited with the old and new values."
      />
      <p className="text-sm text-slate-700" data-testid="monitor-source">
        {source === 'default' && 'No settings saved: the built-in defaults are in force.'}
        {source === 'saved' && (<>Last changed <When iso={updatedAt} /> by {updatedBy ?? 'an unknown account'}.</>)}
      </p>
      {source === 'invalid' && (
        <p role="alert" className="rounded-md border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900">
          The saved settings are outside the allowed ranges, so they are ignored and the built-in defaults shown here are in force. Saving replaces them.
        </p>
      )}
      {canEdit ? (
        <AdminForm action={updateMonitorSettingsAction} hidden={{ version }} submitLabel="Save thresholds" testId="monitor-form" className="space-y-4">
          {groups.map((group) => (
            <fieldset key={group} className="rounded-lg border border-slate-200 bg-white p-4" data-testid={`group-${group}`}>
              <legend className="px-1 text-base font-semibold text-calm">{monitorSettingGroups[group].title}</legend>
              <p className="mb-3 text-sm text-slate-600">{monitorSettingGroups[group].description}</p>
              <div className="grid gap-3 sm:grid-cols-2">
                {inGroup(group).map((field) => <EditableField key={field.name} field={field} />)}
              </div>
            </fieldset>
          ))}
          <TextField label="Your password" name="adminPassword" type="password" autoComplete="current-password"
            hint="Changing what the monitor watches needs your own password (not needed within 5 minutes of your last sign-in or confirmation)." />
        </AdminForm>
      ) : (
        groups.map((group) => (
          <Panel key={group} title={monitorSettingGroups[group].title} testId={`group-${group}`}>
            <p className="mb-2 text-sm text-slate-600">{monitorSettingGroups[group].description}</p>
            <dl className="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]">
              {inGroup(group).map((field) => (
                <div key={field.name} className="contents" data-setting={field.name}>
                  <dt className="font-medium text-slate-700">{field.label}</dt>
                  <dd>{shown(field)} <span className="text-xs text-slate-500">{range(field)}</span></dd>
                </div>
              ))}
            </dl>
          </Panel>
        ))
      )}
      {!canEdit && <p className="text-sm text-slate-500">Administrators change these settings.</p>}
    </div>
  );
}
