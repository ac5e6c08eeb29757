import 'server-only';
import { isUuid } from '@/lib/domain/ids';
import { randomUUID } from 'node:crypto';
import { preparedRows, type Tx } from '@/db/client';
import { auditLog } from '@/db/schema';
import { now as clockNow } from '@/lib/platform/clock';
import type { PatientCipher } from '@/lib/platform/crypto';
import { GENESIS_HASH, chainHash, type ChainedFields } from '@/lib/platform/audit/chain';
import { normaliseIp } from '@/lib/platform/audit/ip';
import type { AuditAction } from '@/lib/domain/audit/actions';

/** Who did it and from where; filled from the signed-in session or the machine client. */
export interface AuditActor {
  userId: string | null;
  ip?: string | null;
  userAgent?: string | null;
  /** The actor's roles at the time (a Viewer has them): kept so reports show the role then. */
  roles?: readonly string[];
}

export interface AuditEvent {
  actor: AuditActor;
  /** Only registered actions can be written (lib/domain/audit/actions.ts). */
  action: AuditAction;
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
  chain: number;
  chainSeq: number;
  logId: string;
  hash: string;
}

/**
 * How many chains the trail is split into. Each append locks one chain until its transaction
 * commits, so this is how many PHI transactions can append (and commit, and wait for their
 * fsync) at the same time. Instances need not agree: verification walks whatever chains exist.
 */
export const AUDIT_CHAINS = 32;
const MAX_USER_AGENT = 512;

/**
 * Told of every entry, in its transaction, right after the INSERT. `alongside` holds the rows
 * its companion's statement returned, when it had one (onAudit).
 */
export type AuditListener = (tx: Tx, event: AuditEvent, record: AuditRecord, alongside?: unknown[]) => Promise<void>;

/** What a companion builds its statement from: a query builder with the entry's INSERT attached as a WITH. */
export type AuditCompanionBuilder = Pick<ReturnType<Tx['with']>, 'insert' | 'update' | 'select'>;

/** A companion's statement as drizzle builds it; awaiting it runs it (a named statement, db/client.ts). */
export type AuditCompanionStatement = PromiseLike<unknown>;

/**
 * A listener's write that goes out with an entry's INSERT as one statement (a data-modifying
 * WITH): one round trip, not two. It must not depend on the entry's row, which the statement
 * cannot see; null when this entry needs none. When two listeners have one, the first rides with
 * the INSERT and the other runs as its own statement, before the listeners.
 */
export type AuditCompanion = (tx: Tx, q: AuditCompanionBuilder, event: AuditEvent) => AuditCompanionStatement | null;

interface Registered {
  listener: AuditListener;
  companion?: AuditCompanion;
}
/*
 * One list per process, not per copy of this module: Next.js compiles instrumentation.ts (which
 * registers the monitor) and the routes (which append) as separate entries, and each may load
 * its own instance of this file.
 */
const globalForListeners = globalThis as unknown as { vigilAuditListenerEntries?: Registered[] };
const listeners = (globalForListeners.vigilAuditListenerEntries ??= []);

/** Lets lib/features/monitor evaluate its rules in the same transaction as each audited access. */
export function onAudit(listener: AuditListener, companion?: AuditCompanion): void {
  if (!listeners.some((r) => r.listener === listener)) listeners.push({ listener, companion });
}

/** The chain each open transaction holds, so all its entries go to the one chain it locked. */
const heldChains = new WeakMap<Tx, number>();

/**
 * The two statements of an append, sent as prepared statements (preparedRows): both run on
 * every audited request, and through drizzle their building and an extra round trip each were
 * most of an append's cost. Parameters go as text and are cast here; `details` as JSON text
 * (`::text::jsonb`), so no driver re-encodes it.
 */
const CLAIM_CHAIN = 'SELECT claimed_chain, head_position, head_hash, next_seq FROM vigil_audit_claim_chain($1::integer, $2::integer)';
const INSERT_ENTRY =
  'INSERT INTO audit_log (seq, chain, chain_seq, log_id, user_id, action_type, resource_type, resource_id, patient_id, occurred_at, ip, user_agent, outcome, break_glass_grant_id, details, sealed_before, sealed_after, prev_hash, hash) ' +
  'VALUES ($1::bigint, $2::integer, $3::bigint, $4::uuid, $5::uuid, $6::text, $7::text, $8::text, $9::uuid, $10::timestamptz, $11::inet, $12::text, $13::text, $14::uuid, $15::text::jsonb, $16::text, $17::text, $18::text, $19::text)';

/** The entry as stored: its chained fields, its place and its links. */
type EntryRow = ChainedFields & { chain: number; chainSeq: number; prevHash: string; hash: string };

/**
 * Appends one entry to a chain inside the caller's transaction, so the change and its audit
 * entry commit together or not at all. The entry goes to a chain no other open transaction
 * holds (vigil_audit_claim_chain, migration 0006): that chain's advisory lock is held to
 * commit, so no chain ever forks, while transactions on other chains append and commit in
 * parallel (and PostgreSQL flushes their commits together).
 */
export async function recordAudit(tx: Tx, event: AuditEvent): Promise<AuditRecord> {
  return appendEntry(tx, event, { chains: AUDIT_CHAINS });
}

/**
 * recordAudit with the chain layout as a parameter, for the benchmark (`chains: 1` is the single
 * chain of the earlier design, measured side by side) and for tests, which on one connection
 * (PGlite) can only reach other chains by starting the search there (`startAt`).
 */
export async function appendEntry(tx: Tx, event: AuditEvent, layout: { chains: number; startAt?: number }): Promise<AuditRecord> {
  const first = heldChains.get(tx) ?? layout.startAt ?? 0;
  const [claim] = await preparedRows(tx, CLAIM_CHAIN, [layout.chains, first]);
  if (!claim) throw new Error('No audit chain could be claimed.');
  const [claimedChain, headPosition, headHash, nextSeq] = claim as [number, string | number, string | null, string | number];
  heldChains.set(tx, claimedChain);
  const logId = randomUUID();
  const seal = (column: 'sealed_before' | 'sealed_after', value: unknown) => {
    if (value === undefined) return null;
    if (!event.cipher) throw new Error('Audit state of a patient must be sealed with that patient’s key.');
    return event.cipher.seal('audit_log', column, logId, value);
  };
  const actorRoles = event.actor.roles?.length ? [...event.actor.roles] : undefined;
  const details = event.details || actorRoles ? { ...event.details, actorRoles } : null;
  // The JSON the jsonb column is given, and what it will give back (no undefined, Dates as strings, …) to hash.
  const detailsJson = details ? JSON.stringify(details) : null;
  const prevHash = headHash ?? GENESIS_HASH;
  const row: EntryRow = {
    seq: Number(nextSeq),
    logId,
    userId: uuidOrNull(event.actor.userId),
    actionType: cleanText(event.action),
    resourceType: cleanText(event.resourceType),
    resourceId: event.resourceId ? cleanText(event.resourceId) : null,
    patientId: uuidOrNull(event.patientId),
    occurredAt: event.occurredAt ?? clockNow(),
    ip: normaliseIp(event.actor.ip),
    userAgent: event.actor.userAgent ? cleanText(event.actor.userAgent, MAX_USER_AGENT) : null,
    outcome: event.outcome,
    breakGlassGrantId: uuidOrNull(event.breakGlassGrantId),
    details: detailsJson === null ? null : (JSON.parse(detailsJson) as Record<string, unknown>),
    sealedBefore: seal('sealed_before', event.before),
    sealedAfter: seal('sealed_after', event.after),
    chain: claimedChain,
    chainSeq: Number(headPosition) + 1,
    prevHash,
    hash: '',
  };
  row.hash = chainHash(prevHash, row);
  // Listeners see the entry's own time, so what they judge is the moment the trail records.
  const seen: AuditEvent = event.occurredAt ? event : { ...event, occurredAt: row.occurredAt };
  const alongside = await insertEntry(tx, row, detailsJson, seen);
  const record = { seq: row.seq, chain: row.chain, chainSeq: row.chainSeq, logId, hash: row.hash };
  for (const registered of listeners) await registered.listener(tx, seen, record, alongside?.get(registered));
  return record;
}

/**
 * Writes the entry: with the first listener companion that has a statement for it (the INSERT
 * in a data-modifying WITH, built by drizzle, so the companion can build on it), otherwise as
 * the prepared INSERT. Returns the rows each companion's statement gave back.
 */
async function insertEntry(tx: Tx, row: EntryRow, detailsJson: string | null, seen: AuditEvent): Promise<Map<Registered, unknown[]> | undefined> {
  let alongside: Map<Registered, unknown[]> | undefined;
  for (const registered of listeners) {
    if (!registered.companion) continue;
    const q = alongside ? tx : tx.with(tx.$with('audit_entry').as(tx.insert(auditLog).values(row)));
    const statement = registered.companion(tx, q, seen);
    if (!statement) continue;
    (alongside ??= new Map()).set(registered, (await statement) as unknown[]);
  }
  if (alongside) return alongside;
  await preparedRows(tx, INSERT_ENTRY, [
    row.seq,
    row.chain,
    row.chainSeq,
    row.logId,
    row.userId,
    row.actionType,
    row.resourceType,
    row.resourceId,
    row.patientId,
    row.occurredAt.toISOString(),
    row.ip,
    row.userAgent,
    row.outcome,
    row.breakGlassGrantId,
    detailsJson,
    row.sealedBefore,
    row.sealedAfter,
    row.prevHash,
    row.hash,
  ]);
  return undefined;
}

/**
 * uuid columns come back lower-case. A value that is not a uuid is a bug in the caller; it
 * throws (the change it belongs to is then rolled back) rather than being logged under no one.
 */
function uuidOrNull(value: string | null | undefined): string | null {
  if (!value) return null;
  if (!isUuid(value)) throw new Error('An audit entry was given an id that is not a uuid.');
  return value.toLowerCase();
}

/**
 * Text as PostgreSQL will store and return it: no NUL (refused by text columns) and no lone
 * surrogate (re-encoded as U+FFFD, which would change the hash), cut at a code point boundary.
 */
function cleanText(value: string, max = 1_000): string {
  const text = value.replaceAll('\0', '').toWellFormed();
  // A string has no more code points than code units: only a long one needs counting.
  if (text.length <= max) return text;
  const chars = [...text];
  return chars.length > max ? chars.slice(0, max).join('') : text;
}
