import 'server-only';
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { desc, sql } from 'drizzle-orm';
import type { Tx } from '@/db/client';
import { auditLog } from '@/db/schema';
import type { PatientCipher } from '@/lib/crypto';
import { GENESIS_HASH, chainHash, type ChainedFields } from './chain';

/** Who did it and from where; filled from the signed-in session or the machine client. */
export interface AuditActor {
  userId: string | null;
  ip?: string | null;
  userAgent?: string | null;
}

export interface AuditEvent {
  actor: AuditActor;
  action: string;
  resourceType: string;
  resourceId?: string | null;
  patientId?: string | null;
  outcome: 'allowed' | 'denied';
  breakGlassGrantId?: string | null;
  /** PHI-free facts only (section names, counts, reason codes). */
  details?: Record<string, unknown>;
  /** PHI state before/after a change: sealed with the patient's data key before storage. */
  before?: unknown;
  after?: unknown;
  cipher?: PatientCipher;
  occurredAt?: Date;
}

export interface AuditRecord {
  seq: number;
  logId: string;
  hash: string;
}

/** Any number, so long as every writer of the chain takes the same one. */
const AUDIT_CHAIN_LOCK = 0x76_69_67_69;
const MAX_USER_AGENT = 512;

export type AuditListener = (tx: Tx, event: AuditEvent, record: AuditRecord) => Promise<void>;
const listeners: AuditListener[] = [];

/** Lets lib/monitor evaluate its rules in the same transaction as each audited access. */
export function onAudit(listener: AuditListener): void {
  if (!listeners.includes(listener)) listeners.push(listener);
}

/**
 * Appends one entry to the chain inside the caller's transaction, so the change and its audit
 * entry commit together or not at all. The advisory lock serialises appends across every
 * connection and app instance: the chain never forks.
 */
export async function recordAudit(tx: Tx, event: AuditEvent): Promise<AuditRecord> {
  await tx.execute(sql`SELECT pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK})`);
  const [head] = await tx
    .select({ seq: auditLog.seq, hash: auditLog.hash })
    .from(auditLog)
    .orderBy(desc(auditLog.seq))
    .limit(1);
  const logId = randomUUID();
  const seal = (column: 'sealed_before' | 'sealed_after', value: unknown) => {
    if (value === undefined) return null;
    if (!event.cipher) throw new Error('Audit state of a patient must be sealed with that patient’s key.');
    return event.cipher.seal('audit_log', column, logId, value);
  };
  const fields: ChainedFields = {
    seq: (head?.seq ?? 0) + 1,
    logId,
    userId: event.actor.userId,
    actionType: event.action,
    resourceType: event.resourceType,
    resourceId: event.resourceId ?? null,
    patientId: event.patientId ?? null,
    occurredAt: event.occurredAt ?? new Date(),
    ip: normaliseIp(event.actor.ip),
    userAgent: event.actor.userAgent?.slice(0, MAX_USER_AGENT) ?? null,
    outcome: event.outcome,
    breakGlassGrantId: event.breakGlassGrantId ?? null,
    details: event.details ?? null,
    sealedBefore: seal('sealed_before', event.before),
    sealedAfter: seal('sealed_after', event.after),
  };
  const prevHash = head?.hash ?? GENESIS_HASH;
  const hash = chainHash(prevHash, fields);
  await tx.insert(auditLog).values({ ...fields, prevHash, hash });
  const record = { seq: fields.seq, logId, hash };
  for (const listener of listeners) await listener(tx, event, record);
  return record;
}

/** Stores an IP only in a form the inet column accepts (and hashes identically on re-read). */
export function normaliseIp(ip: string | null | undefined): string | null {
  if (!ip) return null;
  const bare = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  return isIP(bare) ? bare : null;
}
