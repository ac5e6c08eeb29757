import { ActionForm, Field } from '@/components/chart/action-form';
import { hasAdminPermission, hasAuditPermission } from '@/lib/domain/access/policy';
import { requireViewer } from '@/lib/features/auth/current';
import { getBreakGlassWindow, windowBounds } from '@/lib/features/break-glass';
import { setWindowAction } from './actions';
import { adminPermission, auditPermission } from '@/lib/domain/access/permission-names';

export default async function BreakGlassSettingsPage() {
  const viewer = await requireViewer();
  const canEdit = hasAdminPermission(viewer, adminPermission.breakGlassSettings);
  if (!canEdit && !hasAuditPermission(viewer, auditPermission.reviewBreakGlass)) {
    return <p role="alert" className="text-sm text-red-700">You do not have access to this page.</p>;
  }
  const minutes = await getBreakGlassWindow();
  return (
    <div className="max-w-xl space-y-4">
      <h1 className="text-xl font-semibold">Emergency access window</h1>
      <p className="text-sm text-slate-600">
        A grant opens one chart for this long, then ends; a new grant needs a new justification. Between {windowBounds.min} and{' '}
        {windowBounds.max} minutes. Grants already made keep their window.
      </p>
      <p className="text-sm">Current window: <strong data-testid="window-minutes">{minutes} minutes</strong></p>
      {canEdit && (
        <ActionForm action={setWindowAction} hidden={{}} submitLabel="Save" testId="window-form" className="flex items-end gap-3">
          <Field label="Minutes" name="minutes" type="number" min={windowBounds.min} max={windowBounds.max} defaultValue={minutes} />
          <Field label="Your password" name="adminPassword" type="password" autoComplete="current-password" required={false} maxLength={1024} />
        </ActionForm>
      )}
    </div>
  );
}
