import 'server-only';
import type { Db } from '@/db/client';
import { auditActions } from '@/lib/domain/audit/actions';
import { recordAudit } from '@/lib/platform/audit/append';
import { configureKeyAccessLog, returnPendingKeyAccess, takePendingKeyAccess } from '@/lib/platform/crypto/key-access-log';
import { log } from '@/lib/platform/log';

let flushing: Promise<number> | undefined;
let database: (() => Promise<Db>) | undefined;

/** The portal (instrumentation.ts) and each CLI start the key access log with their database. */
export function startKeyAccessLog(db: () => Promise<Db>, agent = 'vigil portal'): void {
  database = db;
  configureKeyAccessLog(agent, () => flushKeyAccessLog());
}

/**
 * Writes what is pending as one entry per group, in one transaction; resolves to the number of
 * entries. When the trail cannot be written, the groups stay pending for the next try.
 */
export async function flushKeyAccessLog(db?: Db): Promise<number> {
  if (flushing) await flushing.catch(() => {});
  const sink = db ? async () => db : database;
  if (!sink) return 0;
  const batch = takePendingKeyAccess();
  if (batch.length === 0) return 0;
  flushing = (async () => {
    try {
      const target = await sink();
      await target.transaction(async (tx) => {
        for (const g of batch) {
          await recordAudit(tx, {
            actor: { userId: g.who.userId, ip: null, userAgent: g.who.agent },
            action: auditActions.key.access,
            resourceType: 'master_key',
            resourceId: g.version === null ? null : String(g.version),
            outcome: g.outcome === 'ok' ? 'allowed' : 'denied',
            details: { operation: g.operation, result: g.outcome, count: g.count, first: g.first, last: g.last, ...(g.problem ? { problem: g.problem } : {}) },
          });
        }
      });
      return batch.length;
    } catch (error) {
      returnPendingKeyAccess(batch);
      log.warn({ groups: batch.length }, 'Key access log not written yet; will retry.');
      throw error;
    } finally {
      flushing = undefined;
    }
  })();
  return flushing;
}

