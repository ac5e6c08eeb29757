import 'server-only';
import { eq } from 'drizzle-orm';
import type { Db } from '@/db/client';
import { drafts, patientKeys } from '@/db/schema';
import { recordAudit, type AuditActor } from '@/lib/platform/audit';
import { shredPatientKey } from '@/lib/platform/crypto/data-keys';
import { auditActions } from '@/lib/domain/audit/actions';

export type ShredOutcome =
  | { status: 'shredded'; patientId: string; at: Date }
  | { status: 'already_shredded'; patientId: string; at: Date }
  | { status: 'not_found'; patientId: string };

/**
 * Crypto-shreds one patient: their data key is destroyed, so every value sealed with it (chart,
 * audit before/after state, break-glass justifications, backups and replicas alike) becomes
 * unreadable. The destruction and its audit entry commit together. Irreversible by design.
 * Other server processes check for it before using a cached key, so it takes effect everywhere.
 */
export async function shredPatient(db: Db, patientId: string, actor: AuditActor): Promise<ShredOutcome> {
  return db.transaction(async (tx) => {
    const [key] = await tx.select().from(patientKeys).where(eq(patientKeys.patientId, patientId)).limit(1).for('update');
    if (!key) return { status: 'not_found', patientId } as const;
    if (key.shreddedAt) return { status: 'already_shredded', patientId, at: key.shreddedAt } as const;
    const at = new Date();
    await shredPatientKey(tx, patientId, at);
    // Unsent drafts were sealed with the same key and are unreadable now; nothing is left to offer.
    await tx.delete(drafts).where(eq(drafts.patientId, patientId));
    await recordAudit(tx, {
      actor,
      action: auditActions.key.shred,
      resourceType: 'patient',
      resourceId: patientId,
      patientId,
      outcome: 'allowed',
      details: { masterKeyVersion: key.masterKeyVersion },
    });
    return { status: 'shredded', patientId, at } as const;
  });
}
