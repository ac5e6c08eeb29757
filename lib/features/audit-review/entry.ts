import 'server-only';
import { and, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable } from '@/db/client';
import { auditLog } from '@/db/schema';
import { auditPermission } from '@/lib/domain/access/permission-names';
import { fail, ok, type Result } from '@/lib/domain/result';
import { DecryptionError, getPatientCipher } from '@/lib/platform/crypto';
import { GENESIS_HASH, chainHash } from '@/lib/platform/audit/chain';
import { chainedFieldsOf } from '@/lib/platform/audit/verify';
import { operation } from '@/lib/pipeline/operation';
import { auditListEntry, auditTrailDenied, type AuditListEntry } from '@/lib/features/audit-review/query';
import { auditActions } from '@/lib/domain/audit/actions';
import { revealReason } from '@/lib/domain/audit/reveal-reasons';

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
  /** The entry holds sealed values of a patient, which a reveal may open. */
  canReveal: boolean;
}

export const REVEAL_REASON_REQUIRED = 'Choose why you are opening the recorded values.';

const seqSchema = z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const seqTarget = (raw: unknown) => {
  const seq = seqSchema.safeParse((raw as { seq?: unknown } | null)?.seq);
  return seq.success ? String(seq.data) : null;
};

type AuditRow = typeof auditLog.$inferSelect;
const rowAt = async (q: Queryable, seq: number): Promise<AuditRow | undefined> => (await q.select().from(auditLog).where(eq(auditLog.seq, seq)).limit(1))[0];
const revealable = (row: AuditRow) => Boolean(row.patientId && (row.sealedBefore || row.sealedAfter));

/** One entry and its chain check; a seq that is no entry's (or no number) is answered with null. */
export const getAuditEntry = operation({
  name: 'audit-review.entry',
  action: auditActions.audit.entryView,
  resourceType: 'audit_log',
  permission: { category: 'audit', name: auditPermission.read },
  deniedMessage: auditTrailDenied,
  target: seqTarget,
  // A malformed seq is a missing entry, not a form error: the page answers "not found".
  input: z.object({ seq: seqSchema.nullable().catch(null) }),
  run: async ({ tx, input, audit }): Promise<Result<AuditEntryView | null, never>> => {
    await audit({ resourceId: input.seq === null ? null : String(input.seq) });
    const row = input.seq === null ? undefined : await rowAt(tx, input.seq);
    if (!row) return ok(null);
    // The predecessor in the entry's own chain (seq is global; chain_seq is the position).
    const [previous] =
      row.chainSeq > 1
        ? await tx.select({ hash: auditLog.hash }).from(auditLog).where(and(eq(auditLog.chain, row.chain), eq(auditLog.chainSeq, row.chainSeq - 1))).limit(1)
        : [];
    const entry = await auditListEntry(tx, row.seq);
    return ok({
      entry: entry!,
      chain: {
        hashValid: chainHash(row.prevHash, chainedFieldsOf(row)) === row.hash,
        linked: row.chainSeq === 1 ? row.prevHash === GENESIS_HASH : previous?.hash === row.prevHash,
      },
      canReveal: revealable(row),
    });
  },
});

/**
 * Opens the recorded values of one entry: a PHI access of the entry's patient (monitored like any
 * chart view), asked for with a stated reason, only by a POST (a server action: Next refuses one
 * from another origin). A refusal, like the reveal itself, is recorded against the entry's
 * patient, so attempts show in that patient's accounting of disclosures too.
 */
export const revealAuditState = operation({
  name: 'audit-review.reveal-state',
  action: auditActions.audit.stateReveal,
  resourceType: 'audit_log',
  permission: { category: 'audit', name: auditPermission.revealState },
  deniedMessage: 'You may not open the recorded values of this entry.',
  target: seqTarget,
  targetPatient: async (q, seq) => (await q.select({ patientId: auditLog.patientId }).from(auditLog).where(eq(auditLog.seq, Number(seq))).limit(1))[0]?.patientId ?? null,
  input: z.object({ seq: seqSchema, reason: revealReason(REVEAL_REASON_REQUIRED) }),
  invalid: (error) =>
    error.issues.some((i) => i.path[0] === 'reason')
      ? fail('invalid', REVEAL_REASON_REQUIRED, { reason: REVEAL_REASON_REQUIRED })
      : fail('invalid', 'This entry holds no recorded values.'),
  auditInvalid: true,
  authorize: async ({ tx, input }) => {
    const row = await rowAt(tx, input.seq);
    if (!row || !revealable(row)) {
      return { allowed: false, reason: 'nothing_sealed', resourceId: String(input.seq), answer: fail('not_found', 'This entry holds no recorded values.') };
    }
    return { allowed: true, facts: row };
  },
  run: async ({ tx, input, facts: row, audit }): Promise<Result<RevealedState, 'not_found'>> => {
    await audit({ resourceId: String(row.seq), patientId: row.patientId, details: { reason: input.reason } });
    return ok(await openState(tx, row));
  },
});

async function openState(q: Queryable, row: AuditRow): Promise<RevealedState> {
  if (!row.patientId || (!row.sealedBefore && !row.sealedAfter)) return { status: 'none' };
  const { cipher } = await getPatientCipher(q, row.patientId);
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
