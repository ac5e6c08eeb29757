import 'server-only';
import { getDb } from '@/db/client';
import { auditActions } from '@/lib/domain/audit/actions';
import { recordAudit } from '@/lib/platform/audit';
import { CHECKPOINT_TICK_MS, checkpointTick, type CheckpointTick } from '@/lib/platform/audit/auto-checkpoint';
import { withSignature } from '@/lib/platform/audit/checkpoint';
import { now as clockNow } from '@/lib/platform/clock';
import { log } from '@/lib/platform/log';
import { kickAlertDelivery, notifyPrivacyOfficers, queueOffHostRecord } from '@/lib/features/notify';

/*
 * The portal's automatic check of the trail's tail (lib/platform/audit/auto-checkpoint.ts),
 * with what only a feature can do: each new signed checkpoint also leaves the host through the
 * alert outbox (so the last one survives the database and this disk), and an alarm is audited,
 * logged and sent to privacy officers, once per distinct finding.
 */
const globalForAlarm = globalThis as unknown as { vigilLastCheckpointAlarm?: string; vigilCheckpointTimer?: NodeJS.Timeout };

export async function runCheckpointCheck(options: { at?: Date; file?: string } = {}): Promise<CheckpointTick> {
  const db = await getDb();
  const tick = await checkpointTick({ db, at: options.at ?? clockNow(), file: options.file });
  if (tick.state === 'written') {
    await queueOffHostRecord(db, { kind: auditActions.audit.checkpoint, message: JSON.stringify(withSignature(tick.checkpoint)) });
    kickAlertDelivery();
  }
  if (tick.state === 'alarm' && tick.summary !== globalForAlarm.vigilLastCheckpointAlarm) {
    globalForAlarm.vigilLastCheckpointAlarm = tick.summary;
    log.error({ lastCheckpointSeq: tick.checkpoint?.seq ?? null }, 'The automatic audit trail check failed');
    await db.transaction(async (tx) => {
      await recordAudit(tx, {
        actor: { userId: null },
        action: auditActions.audit.checkpointAlarm,
        resourceType: 'audit_log',
        outcome: 'denied',
        details: { summary: tick.summary, lastCheckpointSeq: tick.checkpoint?.seq ?? null },
      });
      await notifyPrivacyOfficers(tx, { kind: auditActions.audit.checkpointAlarm, message: tick.summary, link: '/admin/audit' });
    });
    kickAlertDelivery();
  }
  return tick;
}

/** Started once per server process (instrumentation.ts); the timer does not keep the process alive. */
export function startAutomaticCheckpoints(): void {
  if (globalForAlarm.vigilCheckpointTimer) return;
  const tick = () => runCheckpointCheck().catch((error: unknown) => log.error({ err: error }, 'The automatic audit trail check could not run'));
  globalForAlarm.vigilCheckpointTimer = setInterval(tick, CHECKPOINT_TICK_MS);
  globalForAlarm.vigilCheckpointTimer.unref();
  void tick();
}
