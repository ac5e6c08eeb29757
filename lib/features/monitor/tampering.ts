import 'server-only';
import type { Tx } from '@/db/client';
import type { AuditEvent } from '@/lib/platform/audit';
import { auditActions } from '@/lib/domain/audit/actions';
import { HOUR_MS } from '@/lib/domain/monitor/rules';
import { openIncident } from '@/lib/features/monitor/incidents';

/**
 * The case a failed integrity check opens (lib/platform/integrity): HIGH, so privacy officers are
 * told at once, naming the table and the row. It concerns the user whose access the row would have
 * changed, or — for a chart page, which changes nobody's access — no user (the nil id), one case
 * per hour with every row that failed in it.
 */
export const NO_USER = '00000000-0000-0000-0000-000000000000';

export async function openTamperCase(tx: Tx, event: AuditEvent): Promise<void> {
  if (event.action !== auditActions.integrity.tampered) return;
  const details = event.details ?? {};
  const at = event.occurredAt ?? new Date();
  await openIncident(tx, {
    userId: typeof details.subjectUserId === 'string' ? details.subjectUserId : NO_USER,
    severity: 'HIGH',
    rule: 'tampered_row',
    windowStart: new Date(Math.floor(at.getTime() / HOUR_MS) * HOUR_MS),
    details: { table: details.table, rowId: details.rowId, check: details.check, ...(event.patientId ? { patientIds: [event.patientId] } : {}) },
    at,
  });
}
