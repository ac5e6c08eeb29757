import 'server-only';
import type { Tx } from '@/db/client';
import { recordAudit } from '@/lib/platform/audit';
import { auditActions } from '@/lib/domain/audit/actions';

/**
 * A row that failed its integrity check — a sealed chart section that disagrees with its head, an
 * authorization row whose MAC does not match — is treated as absent by whoever read it, and
 * reported here: one audit entry naming the table and the row, in the reader's transaction. Access
 * monitoring turns that entry into a HIGH case for privacy officers (lib/features/monitor/tampering.ts),
 * the way every other alarm reaches them, so platform code can report without knowing the monitor.
 */
export interface TamperReport {
  /** The table whose row failed, as the database names it. */
  table: string;
  /** The row's key, as text (composite keys joined with `/`). */
  rowId: string;
  /** The patient the row belongs to, when it is a chart row. */
  patientId?: string | null;
  /** Whose access the row would have changed (a session's or a grant's user), when there is one. */
  subjectUserId?: string | null;
  /** What kind of check failed, for the case's evidence. */
  what: string;
}

export async function reportTampering(tx: Tx, report: TamperReport): Promise<void> {
  await recordAudit(tx, {
    actor: { userId: null },
    action: auditActions.integrity.tampered,
    resourceType: report.table,
    resourceId: report.rowId,
    patientId: report.patientId ?? null,
    outcome: 'denied',
    details: { table: report.table, rowId: report.rowId, check: report.what, subjectUserId: report.subjectUserId ?? null },
  });
}
