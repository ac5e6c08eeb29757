import 'server-only';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { getDb } from '@/db/client';
import { auditLog } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { DecryptionError, getPatientCipher } from '@/lib/platform/crypto';
import { GENESIS_HASH, chainHash } from '@/lib/platform/audit/chain';
import { auditListEntry, auditPermission, auditTrailUse, type AuditListEntry, type AuditQueryResult } from '@/lib/features/audit-review/query';
import { chainedFieldsOf } from '@/lib/platform/audit/verify';

/**
 * One audit entry in full, for a privacy officer's investigation. Its sealed before/after state
 * is PHI of the entry's patient: it is opened only on an explicit request ("reveal"), only with
 * the reveal permission, and that request is itself recorded against the patient, so it shows in
 * the patient's accounting of disclosures. Lists and exports never open it.
 */
export type RevealedState =
  | { status: 'ok'; before: unknown; after: unknown; changes: Array<{ field: string; before: unknown; after: unknown }> }
  | { status: 'erased' | 'unavailable' | 'none' };

export interface AuditEntryView {
  entry: AuditListEntry;
  /** The entry's own hash recomputed, and its link to the entry before it. */
  chain: { hashValid: boolean; linked: boolean };
  state: RevealedState | null;
  canReveal: boolean;
}

const seqSchema = z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

export async function getAuditEntry(viewer: Viewer, seqInput: unknown, options: { reveal?: boolean } = {}): Promise<AuditQueryResult<AuditEntryView | null>> {
  const seq = seqSchema.safeParse(seqInput);
  const db = await getDb();
  const resourceId = seq.success ? String(seq.data) : null;
  if (!(await auditTrailUse(viewer, auditPermission.read, 'audit.entry.view', { resourceId }, db))) {
    return { ok: false, error: 'denied', message: 'You do not have access to the audit trail.' };
  }
  if (!seq.success) return { ok: true, value: null };
  const [row] = await db.select().from(auditLog).where(eq(auditLog.seq, seq.data)).limit(1);
  if (!row) return { ok: true, value: null };
  const [previous] = row.seq > 1 ? await db.select({ hash: auditLog.hash }).from(auditLog).where(eq(auditLog.seq, row.seq - 1)).limit(1) : [];
  const entry = await auditListEntry(db, row.seq);
  const hasState = Boolean(row.sealedBefore || row.sealedAfter);
  const canReveal = hasState && Boolean(row.patientId);
  let state: RevealedState | null = null;
  if (options.reveal && canReveal) {
    const allowed = await auditTrailUse(viewer, auditPermission.revealState, 'audit.state.reveal', { resourceId: String(row.seq), patientId: row.patientId }, db);
    if (!allowed) return { ok: false, error: 'denied', message: 'You may not open the recorded values of this entry.' };
    state = await openState(row);
  }
  return {
    ok: true,
    value: {
      entry: entry!,
      chain: {
        hashValid: chainHash(row.prevHash, chainedFieldsOf(row)) === row.hash,
        linked: row.seq === 1 ? row.prevHash === GENESIS_HASH : previous?.hash === row.prevHash,
      },
      state,
      canReveal,
    },
  };
}

async function openState(row: typeof auditLog.$inferSelect): Promise<RevealedState> {
  if (!row.patientId || (!row.sealedBefore && !row.sealedAfter)) return { status: 'none' };
  const { cipher } = await getPatientCipher(await getDb(), row.patientId);
  if (!cipher) return { status: 'erased' };
  try {
    const open = (column: 'sealed_before' | 'sealed_after', sealed: string | null) =>
      sealed === null ? undefined : cipher.open<unknown>('audit_log', column, row.logId, sealed);
    const before = open('sealed_before', row.sealedBefore);
    const after = open('sealed_after', row.sealedAfter);
    return { status: 'ok', before, after, changes: changedFields(before, after) };
  } catch (error) {
    if (error instanceof DecryptionError) return { status: 'unavailable' };
    throw error;
  }
}

/** Field-by-field differences of two recorded states (objects), in field order. */
export function changedFields(before: unknown, after: unknown): Array<{ field: string; before: unknown; after: unknown }> {
  const asObject = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const b = asObject(before);
  const a = asObject(after);
  const fields = [...new Set([...Object.keys(b), ...Object.keys(a)])];
  return fields
    .filter((field) => JSON.stringify(b[field]) !== JSON.stringify(a[field]))
    .map((field) => ({ field, before: b[field], after: a[field] }));
}
