import { AdminDenied, PageHeader, Panel, When } from '@/components/admin/page-parts';
import { viewKeyLifecycle } from '@/lib/features/admin/key-lifecycle';
import { requireViewer } from '@/lib/features/auth/current';

/** The master keys' lifecycle: versions, where they live, ages and the next rotation. No key, no PHI. */
export default async function KeyLifecyclePage() {
  const viewer = await requireViewer();
  const lifecycle = await viewKeyLifecycle(viewer);
  if (!lifecycle.ok) {
    if (lifecycle.error === 'keys_unavailable') return <p role="alert" className="text-sm text-red-700">{lifecycle.message}</p>;
    return <AdminDenied />;
  }
  const { store, versions, maxAgeDays, nextRotationDue, daysUntilDue, lastRotation } = lifecycle.value;
  const dueClass = daysUntilDue <= 0 ? 'text-red-700' : daysUntilDue <= 30 ? 'text-amber-700' : 'text-green-700';

  return (
    <div className="max-w-5xl space-y-4">
      <PageHeader
        title="Master keys"
        description={`The keys that wrap every patient’s data key, in ${store}. Each is rotated before it is ${maxAgeDays} days old; admins and privacy officers are reminded 30 and 7 days ahead, and an overdue key opens a HIGH incident.`}
      />
      <div className="grid gap-4 md:grid-cols-2">
        <Panel title="Next rotation" testId="next-rotation">
          <p className={`text-lg font-semibold ${dueClass}`} data-testid="days-until-due">
            {daysUntilDue <= 0 ? `Overdue by ${-daysUntilDue} day(s)` : `Due in ${daysUntilDue} day(s)`}
          </p>
          <p className="text-sm text-slate-600">
            <When iso={nextRotationDue} /> · run <code>npm run keys:rotate</code> (a scheduler can run it; see docs/operations.md)
          </p>
        </Panel>
        <Panel title="Last rotation" testId="last-rotation">
          {lastRotation ? (
            <p className="text-sm">
              To version {lastRotation.targetVersion}, started <When iso={lastRotation.startedAt} />,{' '}
              {lastRotation.finishedAt ? <>finished <When iso={lastRotation.finishedAt} /></> : <span className="font-medium text-amber-700">not finished: run it again to resume</span>}
              ; {lastRotation.rewrapped} data key(s) re-wrapped.
            </p>
          ) : (
            <p className="text-sm text-slate-600">No rotation yet.</p>
          )}
        </Panel>
      </div>
      <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
        <table className="w-full text-sm" data-testid="key-versions">
          <thead className="bg-slate-100 text-left text-slate-600">
            <tr>
              <th className="px-4 py-2">Version</th>
              <th className="px-4 py-2">Lives in</th>
              <th className="px-4 py-2">Created</th>
              <th className="px-4 py-2">Age</th>
              <th className="px-4 py-2">Data keys wrapped</th>
              <th className="px-4 py-2">Status</th>
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.version} data-version={v.version} className="border-t border-slate-100">
                <td className="px-4 py-2 font-medium">{v.version}</td>
                <td className="px-4 py-2 font-mono text-xs">{v.location}</td>
                <td className="px-4 py-2"><When iso={v.createdAt} /></td>
                <td className="px-4 py-2">{v.ageDays} day(s)</td>
                <td className="px-4 py-2">{v.dataKeys}</td>
                <td className="px-4 py-2">
                  {v.current ? (
                    <span className="rounded bg-green-100 px-2 py-0.5 text-xs font-medium text-green-800">Current</span>
                  ) : v.retiredAt ? (
                    <span className="text-slate-600">Retired <When iso={v.retiredAt} /></span>
                  ) : (
                    <span className="text-slate-700">Unwraps only</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
