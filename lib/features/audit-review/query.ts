import 'server-only';
import { and, asc, desc, eq, gte, isNotNull, like, lt, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { getDb, type Queryable } from '@/db/client';
import { auditLog, breakGlassGrants, users } from '@/db/schema';
import { auditPermission } from '@/lib/domain/access/permission-names';
import { fail, ok, type Refusal, type Result } from '@/lib/domain/result';
import { operation } from '@/lib/pipeline/operation';
import { auditActions } from '@/lib/domain/audit/actions';

/**
 * Searching the audit trail for privacy officers. Every search, export and entry view is itself
 * recorded (allowed or denied) before anything is returned. Results are newest first and paged
 * by keyset on (occurred_at, seq), which the time, user and patient indexes serve without ever
 * counting or skipping rows: page 5,000 costs what page 1 costs.
 */

export const AUDIT_PAGE_SIZE = 50;

const blankToUndefined = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);
/**
 * A date ("2026-11-25") or a datetime-local value ("2026-11-25T08:30"), read as UTC (the audit
 * pages show UTC throughout). An end bound includes the whole day or minute it names.
 */
const utcBound = (end: boolean) =>
  z.preprocess(
    blankToUndefined,
    z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2})?$/, 'Use a date and time like 2026-11-25T08:30.')
      .transform((s) => {
        const start = new Date(`${s.length === 10 ? `${s}T00:00` : s}:00.000Z`);
        return end ? new Date(start.getTime() + (s.length === 10 ? 86_400_000 : 60_000)) : start;
      })
      .refine((d) => !Number.isNaN(d.getTime()), 'That date does not exist.')
      .optional(),
  );
const cursor = z.preprocess(
  blankToUndefined,
  z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z_\d{1,18}$/)
    .transform((s) => {
      const [at, seq] = s.split('_') as [string, string];
      return { at, seq: Number(seq) };
    })
    .optional()
    .catch(undefined),
);

export const auditFilterSchema = z.object({
  user: z.preprocess(blankToUndefined, z.string().trim().toLowerCase().max(254, 'An email has at most 254 characters.').optional()),
  patient: z.preprocess(blankToUndefined, z.string().trim().toLowerCase().uuid('A patient id looks like 0b6d…-…: copy it from an entry.').optional()),
  action: z.preprocess(
    blankToUndefined,
    z
      .string()
      .trim()
      .toLowerCase()
      .max(100)
      .regex(/^[a-z0-9_.]+\*?$/, 'An action is like chart.view, or progress_notes.* for all of a kind.')
      .optional(),
  ),
  outcome: z.preprocess(blankToUndefined, z.enum(['allowed', 'denied']).optional()),
  from: utcBound(false),
  to: utcBound(true),
  breakGlass: z.preprocess((v) => v === 'on' || v === 'true' || v === '1' || v === true, z.boolean()),
});
export type AuditFilter = z.infer<typeof auditFilterSchema>;
export const pageSchema = z.object({ before: cursor, after: cursor });

export interface AuditListEntry {
  seq: number;
  logId: string;
  occurredAt: string;
  user: { id: string; email: string | null; displayName: string | null } | null;
  roles: string[];
  action: string;
  resourceType: string;
  resourceId: string | null;
  patientId: string | null;
  outcome: string;
  ip: string | null;
  userAgent: string | null;
  breakGlass: { grantId: string; reasonCode: string | null } | null;
  /** PHI-free facts; for list and search entries, `shown` names the patients on screen. */
  details: Record<string, unknown> | null;
  /** Whether sealed before/after state exists (never decrypted in lists or exports). */
  hasState: boolean;
  prevHash: string;
  hash: string;
}

export interface AuditPage {
  entries: AuditListEntry[];
  /** Cursor for older entries, if there may be more. */
  older: string | null;
  /** Cursor for newer entries, when this page is not the newest. */
  newer: string | null;
  /** The user filter named an email no account has. */
  unknownUser: boolean;
}

/** What anyone without the permission is told (the refusal is recorded). */
export const auditTrailDenied = 'You do not have access to the audit trail.';

/** A filter the schema refused: its first plain message (zod messages never echo the value). */
export function invalidFilter(error: z.ZodError): Refusal<'invalid'> {
  return fail('invalid', error.issues[0]?.message ?? 'Check the filter.');
}

/** Filter facts as they go into the audit entry of a search or export. */
export function describeFilter(filter: AuditFilter): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries({ ...filter, from: filter.from?.toISOString(), to: filter.to?.toISOString(), breakGlass: filter.breakGlass || undefined }).filter(
      ([, v]) => v !== undefined,
    ),
  );
}

/** A filter as SQL conditions (the portal's and the FHIR API's searches share them). */
export async function conditions(db: Queryable, filter: AuditFilter): Promise<{ where: SQL[]; unknownUser: boolean }> {
  const where: SQL[] = [];
  let unknownUser = false;
  if (filter.user) {
    const [user] = await db.select({ id: users.id }).from(users).where(eq(users.email, filter.user)).limit(1);
    unknownUser = !user;
    // An unknown email matches nothing (not everything).
    where.push(user ? eq(auditLog.userId, user.id) : sql`false`);
  }
  if (filter.patient) where.push(eq(auditLog.patientId, filter.patient));
  if (filter.action) {
    where.push(filter.action.endsWith('*') ? like(auditLog.actionType, `${filter.action.slice(0, -1).replace(/_/g, '\\_')}%`) : eq(auditLog.actionType, filter.action));
  }
  if (filter.outcome) where.push(eq(auditLog.outcome, filter.outcome));
  if (filter.from) where.push(gte(auditLog.occurredAt, filter.from));
  if (filter.to) where.push(lt(auditLog.occurredAt, filter.to));
  if (filter.breakGlass) where.push(isNotNull(auditLog.breakGlassGrantId));
  return { where, unknownUser };
}

const listColumns = {
  seq: auditLog.seq,
  logId: auditLog.logId,
  occurredAt: auditLog.occurredAt,
  userId: auditLog.userId,
  email: users.email,
  displayName: users.displayName,
  action: auditLog.actionType,
  resourceType: auditLog.resourceType,
  resourceId: auditLog.resourceId,
  patientId: auditLog.patientId,
  outcome: auditLog.outcome,
  ip: auditLog.ip,
  userAgent: auditLog.userAgent,
  grantId: auditLog.breakGlassGrantId,
  reasonCode: breakGlassGrants.reasonCode,
  details: auditLog.details,
  hasState: sql<boolean>`(${auditLog.sealedBefore} IS NOT NULL OR ${auditLog.sealedAfter} IS NOT NULL)`,
  prevHash: auditLog.prevHash,
  hash: auditLog.hash,
};

function selectRows(db: Queryable, where: SQL | undefined, order: SQL[], limit: number) {
  return db
    .select(listColumns)
    .from(auditLog)
    .leftJoin(users, eq(users.id, auditLog.userId))
    .leftJoin(breakGlassGrants, eq(breakGlassGrants.id, auditLog.breakGlassGrantId))
    .where(where)
    .orderBy(...order)
    .limit(limit);
}
type ListRow = Awaited<ReturnType<typeof selectRows>>[number];

function toEntry(row: ListRow): AuditListEntry {
  const roles = row.details?.actorRoles;
  return {
    seq: row.seq,
    logId: row.logId,
    occurredAt: row.occurredAt.toISOString(),
    user: row.userId ? { id: row.userId, email: row.email, displayName: row.displayName } : null,
    roles: Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [],
    action: row.action,
    resourceType: row.resourceType,
    resourceId: row.resourceId,
    patientId: row.patientId,
    outcome: row.outcome,
    ip: row.ip,
    userAgent: row.userAgent,
    breakGlass: row.grantId ? { grantId: row.grantId, reasonCode: row.reasonCode } : null,
    details: row.details ?? null,
    hasState: Boolean(row.hasState),
    prevHash: row.prevHash,
    hash: row.hash,
  };
}

/** The keyset cursor just past an entry, in the form `pageSchema` reads. */
export const cursorOf = (entry: AuditListEntry) => `${entry.occurredAt}_${entry.seq}`;
const position = sql`(${auditLog.occurredAt}, ${auditLog.seq})`;
const at = (c: { at: string; seq: number }) => sql`(${c.at}::timestamptz, ${c.seq}::bigint)`;

/** Entries matching a filter, newest first, in pages of `limit`, from after a keyset cursor. */
export async function selectPage(db: Queryable, where: SQL[], page: { before?: { at: string; seq: number }; after?: { at: string; seq: number } }, limit: number) {
  const keyset = page.after ? sql`${position} > ${at(page.after)}` : page.before ? sql`${position} < ${at(page.before)}` : undefined;
  const order = page.after ? [asc(auditLog.occurredAt), asc(auditLog.seq)] : [desc(auditLog.occurredAt), desc(auditLog.seq)];
  const rows = await selectRows(db, and(...where, ...(keyset ? [keyset] : [])), order, limit);
  const entries = rows.map(toEntry);
  return page.after ? entries.reverse() : entries;
}

/** Entries in list form by any condition; the caller has checked and recorded the viewer's access. */
export async function selectAuditEntries(db: Queryable, where: SQL | undefined, order: SQL[], limit: number): Promise<AuditListEntry[]> {
  return (await selectRows(db, where, order, limit)).map(toEntry);
}

/** One entry in list form; the caller has checked and recorded the viewer's access. */
export async function auditListEntry(db: Queryable, seq: number): Promise<AuditListEntry | undefined> {
  const [row] = await selectRows(db, eq(auditLog.seq, seq), [], 1);
  return row && toEntry(row);
}

/**
 * One page of the audit trail for a privacy officer. The search is recorded first, so a search
 * of the trail's own use finds itself, as it did when the entry was written before searching.
 */
export const searchAuditLog = operation({
  name: 'audit-review.search',
  action: auditActions.audit.search,
  resourceType: 'audit_log',
  permission: { category: 'audit', name: auditPermission.read },
  deniedMessage: auditTrailDenied,
  input: auditFilterSchema.extend(pageSchema.shape),
  invalid: invalidFilter,
  run: async ({ tx, input, audit }): Promise<Result<AuditPage, never>> => {
    const { before, after, ...filter } = input;
    await audit({ details: describeFilter(filter) });
    const { where, unknownUser } = await conditions(tx, filter);
    const rows = await selectPage(tx, where, { before, after }, AUDIT_PAGE_SIZE + 1);
    // One extra row says whether there is another page in the direction of travel.
    const more = rows.length > AUDIT_PAGE_SIZE;
    const entries = after ? rows.slice(more ? 1 : 0) : rows.slice(0, AUDIT_PAGE_SIZE);
    const first = entries[0];
    const last = entries.at(-1);
    return ok({
      entries,
      older: last && (after || more) ? cursorOf(last) : null,
      newer: first && (before || (after && more)) ? cursorOf(first) : null,
      unknownUser,
    });
  },
});

/**
 * Every entry matching a filter, newest first, a page at a time (an export never holds the
 * whole trail in memory). The caller records the export before reading.
 */
export async function* iterateAuditLog(filter: AuditFilter, pageSize = 1_000): AsyncGenerator<AuditListEntry> {
  const db = await getDb();
  const { where } = await conditions(db, filter);
  let before: { at: string; seq: number } | undefined;
  for (;;) {
    const rows = await selectPage(db, where, { before }, pageSize);
    yield* rows;
    if (rows.length < pageSize) return;
    const last = rows.at(-1)!;
    before = { at: last.occurredAt, seq: last.seq };
  }
}
