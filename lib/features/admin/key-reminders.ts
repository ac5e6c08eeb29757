import 'server-only';
import { and, eq, sql } from 'drizzle-orm';
import { getDb, type Db } from '@/db/client';
import { alertOutbox, auditLog, notifications } from '@/db/schema';
import { auditActions } from '@/lib/domain/audit/actions';
import { recordAudit } from '@/lib/platform/audit';
import { now as clockNow } from '@/lib/platform/clock';
import { kickAlertDelivery } from '@/lib/features/notify';
import { openIncident } from '@/lib/features/monitor/incidents';
import { readKeyLifecycle } from '@/lib/features/admin/key-lifecycle';

/**
 * Rotation reminders: 30 and 7 days before the current master key reaches
 * VIGIL_KEY_MAX_AGE_DAYS, admins and privacy officers get a notice (in the portal and through
 * the alert outbox); once it is overdue, a HIGH incident opens. Each is sent once per key
 * version: the `key.reminder` entry in the trail is the record that it went, written in the
 * transaction that sends it, under a lock so two processes never both send.
 */
export type ReminderStage = 'due_in_30_days' | 'due_in_7_days' | 'overdue';

/** The incident of an overdue key concerns the installation, not a person: this subject id. */
export const INSTALLATION_SUBJECT = '00000000-0000-0000-0000-000000000000';
const REMINDER_LOCK = 0x76_6b_72_6d;

function stageOf(daysUntilDue: number): ReminderStage | null {
  if (daysUntilDue <= 0) return 'overdue';
  if (daysUntilDue <= 7) return 'due_in_7_days';
  if (daysUntilDue <= 30) return 'due_in_30_days';
  return null;
}

const stageOrder: ReminderStage[] = ['due_in_30_days', 'due_in_7_days', 'overdue'];

/** Sends what is due and not yet sent; resolves to the stages sent now. */
export async function remindKeyRotation(database?: Db, at = clockNow()): Promise<ReminderStage[]> {
  const db = database ?? (await getDb());
  const sent = await db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${REMINDER_LOCK})`);
    const lifecycle = await readKeyLifecycle(tx, at);
    const stage = stageOf(lifecycle.daysUntilDue);
    if (!stage) return [];
    const version = String(lifecycle.versions.find((v) => v.current)?.version ?? 0);
    const done = await tx
      .select({ details: auditLog.details })
      .from(auditLog)
      .where(and(eq(auditLog.actionType, auditActions.key.reminder), eq(auditLog.resourceId, version)));
    const already = new Set(done.map((d) => String(d.details?.stage)));
    // A stage skipped (the check did not run in time) is not sent late: only the latest one.
    if (already.has(stage) || stageOrder.slice(stageOrder.indexOf(stage)).some((s) => already.has(s))) return [];
    const message =
      stage === 'overdue'
        ? `Master key version ${version} is past its maximum age of ${lifecycle.maxAgeDays} days: run npm run keys:rotate now.`
        : `Master key version ${version} is due for rotation in ${lifecycle.daysUntilDue} day(s) (maximum age ${lifecycle.maxAgeDays} days).`;
    const notice = { kind: `key.rotation_${stage}`, message, link: '/admin/keys' };
    for (const audience of ['admin', 'privacy_officer']) {
      await tx.insert(notifications).values({ audienceRole: audience, kind: notice.kind, message, link: notice.link });
      await tx.insert(alertOutbox).values({ payload: { ...notice, audience, createdAt: at.toISOString() }, nextAttemptAt: at });
    }
    if (stage === 'overdue') {
      await openIncident(tx, {
        userId: INSTALLATION_SUBJECT,
        severity: 'HIGH',
        rule: 'master_key_overdue',
        windowStart: new Date(lifecycle.nextRotationDue),
        details: { version: Number(version), maxAgeDays: lifecycle.maxAgeDays, due: lifecycle.nextRotationDue },
        at,
      });
    }
    await recordAudit(tx, {
      actor: { userId: null, userAgent: 'vigil key reminders' },
      action: auditActions.key.reminder,
      resourceType: 'master_key',
      resourceId: version,
      outcome: 'allowed',
      occurredAt: at,
      details: { stage, daysUntilDue: lifecycle.daysUntilDue, due: lifecycle.nextRotationDue },
    });
    return [stage];
  });
  if (sent.length > 0) kickAlertDelivery();
  return sent;
}
