import { ActionForm } from '@/components/chart/action-form';

type Action = Parameters<typeof ActionForm>[0]['action'];

/** The SMART apps an admin registered for launch from the chart; opening one hands it this patient. */
export function SmartAppsStrip({ apps, patientId, fhirBase, action }: { apps: Array<{ clientId: string; name: string }>; patientId: string; fhirBase: string; action: Action }) {
  if (apps.length === 0) return null;
  return (
    <section aria-label="Apps" data-testid="smart-apps" className="flex flex-wrap items-center gap-3 rounded-lg border border-slate-200 bg-white px-4 py-2 text-sm">
      <span className="font-medium text-slate-700">Apps</span>
      {apps.map((app) => (
        <ActionForm key={app.clientId} action={action} hidden={{ clientId: app.clientId, patientId, fhirBase }} submitLabel={`Open ${app.name}`} className="flex items-center gap-2" testId="launch-app" />
      ))}
      <span className="text-xs text-slate-500">The app reads this chart as you, within your role; every read is recorded.</span>
    </section>
  );
}
