import 'server-only';
import { and, eq, inArray, or, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { auditLog } from '@/db/schema';
import { auditPermission } from '@/lib/domain/access/permission-names';
import { auditActionList, auditActions } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { operation } from '@/lib/pipeline/operation';
import { recordedInteractions } from '@/lib/features/audit-review/balp';
import { exportedAction, type EventAction } from '@/lib/features/audit-review/export';
import {
  auditTrailDenied,
  conditions,
  cursorOf,
  describeFilter,
  pageSchema,
  selectAuditEntries,
  selectPage,
  type AuditFilter,
  type AuditListEntry,
} from '@/lib/features/audit-review/query';
import { dateFilter, MAX_COUNT, type DateFilter } from '@/lib/features/fhir/search';

/**
 * `GET /fhir/R4/AuditEvent` and `AuditEvent/[id]`: the portal's audit search for privacy
 * officers' apps. Both are guarded operations under the permission the portal's audit page asks
 * for (`audit.read`), which a token keeps only with an AuditEvent scope and only if the user's
 * role holds it (lib/domain/access/smart-scopes.ts `narrowPermissions`); so a clinician's token,
 * or a privacy officer's without the scope, gets the portal's refusal, recorded. Each search and
 * read is itself recorded, as `audit.search` and `audit.entry.view` like the portal's, with the
 * app. Results are the trail's own filters and keyset pages (lib/features/audit-review/query.ts),
 * newest first: a `next` link carries the cursor past the last entry, so entries written while a
 * client pages (its own searches among them) never shift a page and each match comes once.
 */

/** The search parameters served, with their FHIR types (the CapabilityStatement lists exactly these). */
export const auditEventParameters = {
  _count: 'number',
  _cursor: 'string',
  patient: 'reference',
  date: 'date',
  agent: 'reference',
  subtype: 'token',
  outcome: 'token',
  action: 'token',
} as const;
type AuditEventParameter = keyof typeof auditEventParameters;

/** How the export names a user (agent.who.identifier) and an action (a subtype coding). */
const USER_SYSTEM = 'urn:vigil:user';
const ACTION_SYSTEM = 'urn:vigil:audit-action';
const DEFAULT_COUNT = 20;
const outcomes = { '0': 'allowed', '4': 'denied' } as const;
const eventActions = ['C', 'R', 'U', 'D', 'E'] as const satisfies readonly EventAction[];

export interface AuditEventQuery {
  filter: AuditFilter;
  agent: string | null;
  action: EventAction | null;
  count: number;
  cursor: { at: string; seq: number } | null;
}

/** Earliest and latest instants that all `date` values allow ([from, to)); `ne` has no single range and is refused. */
function bounds(dates: DateFilter[]): Pick<AuditFilter, 'from' | 'to'> {
  let from = -Infinity;
  let to = Infinity;
  for (const d of dates) {
    if (d.prefix === 'eq' || d.prefix === 'ge') from = Math.max(from, d.from);
    if (d.prefix === 'gt') from = Math.max(from, d.to);
    if (d.prefix === 'eq' || d.prefix === 'le') to = Math.min(to, d.to);
    if (d.prefix === 'lt') to = Math.min(to, d.from);
  }
  return { from: Number.isFinite(from) ? new Date(from) : undefined, to: Number.isFinite(to) ? new Date(to) : undefined };
}

const token = (raw: string) => {
  const bar = raw.indexOf('|');
  return bar < 0 ? { system: null, value: raw } : { system: raw.slice(0, bar), value: raw.slice(bar + 1) };
};

/**
 * The query string, parsed. A parameter the server does not serve, a repeated one (only `date`
 * may repeat) or a malformed value is refused, never ignored, and the message names the
 * parameter, never the value.
 */
const auditEventSearch = z.instanceof(URLSearchParams).transform((params, ctx): AuditEventQuery => {
  const query: AuditEventQuery = { filter: { breakGlass: false }, agent: null, action: null, count: DEFAULT_COUNT, cursor: null };
  const dates: DateFilter[] = [];
  const seen = new Set<string>();
  for (const [rawName, value] of params) {
    const [name = '', modifier] = rawName.split(':');
    const known = Object.hasOwn(auditEventParameters, name) && (modifier === undefined || (name === 'agent' && modifier === 'identifier'));
    const refuse = () => {
      ctx.addIssue({ code: 'custom', message: `The search parameter ${/^[A-Za-z_-]{1,40}$/.test(name) ? name : 'given'} is not supported or not valid here.` });
      return z.NEVER;
    };
    if (!known || value.length > 200 || (name !== 'date' && seen.has(name))) return refuse();
    seen.add(name);
    switch (name as AuditEventParameter) {
      case '_count': {
        const n = z.coerce.number().int().min(1).max(MAX_COUNT).safeParse(value);
        if (!n.success) return refuse();
        query.count = n.data;
        break;
      }
      case '_cursor': {
        const cursor = pageSchema.shape.before.parse(value);
        if (!cursor) return refuse();
        query.cursor = cursor;
        break;
      }
      case 'patient': {
        const id = z.uuid().safeParse(value.replace(/^Patient\//, '').toLowerCase());
        if (!id.success) return refuse();
        query.filter.patient = id.data;
        break;
      }
      case 'date': {
        const d = dateFilter(value);
        if (!d || d.prefix === 'ne') return refuse();
        dates.push(d);
        break;
      }
      case 'agent': {
        // agent:identifier=urn:vigil:user|<id> is the standard form (the export names users by identifier); agent=<id> the short one.
        const named = modifier ? token(value) : { system: USER_SYSTEM, value };
        const id = z.uuid().safeParse(named.value.toLowerCase());
        if (named.system !== USER_SYSTEM || !id.success) return refuse();
        query.agent = id.data;
        break;
      }
      case 'subtype': {
        const { system, value: code } = token(value);
        if ((system !== null && system !== ACTION_SYSTEM) || !/^[a-z0-9_.]{1,100}$/.test(code)) return refuse();
        query.filter.action = code;
        break;
      }
      case 'outcome': {
        if (!Object.hasOwn(outcomes, value)) return refuse();
        query.filter.outcome = outcomes[value as keyof typeof outcomes];
        break;
      }
      case 'action': {
        const code = z.enum(eventActions).safeParse(value);
        if (!code.success) return refuse();
        query.action = code.data;
        break;
      }
    }
  }
  query.filter = { ...query.filter, ...bounds(dates) };
  return query;
});

/**
 * The entries whose exported `AuditEvent.action` is `code`, worked out from the export's own
 * function for every registered action (and, where the export looks at it, every interaction a
 * FHIR read records), so the search and the export cannot disagree.
 */
function actionCondition(code: EventAction): SQL {
  const variants = [null, ...recordedInteractions];
  const interaction = sql`coalesce(${auditLog.details}->>'interaction', '')`;
  const whole: string[] = [];
  const partial: SQL[] = [];
  for (const { name } of auditActionList) {
    const matching = variants.filter((v) => exportedAction(name, v === null ? null : { interaction: v }) === code);
    if (matching.length === variants.length) whole.push(name);
    else if (matching.length > 0) partial.push(and(eq(auditLog.actionType, name), inArray(interaction, matching.map((v) => v ?? '')))!);
  }
  return or(inArray(auditLog.actionType, whole), ...partial)!;
}

const clientId = z.string().max(100);
const invalidSearch = (error: z.ZodError) => fail('invalid', error.issues[0]?.message ?? 'The request could not be read.');

export interface AuditEventPage {
  entries: AuditListEntry[];
  /** The cursor past this page's last entry, when there may be more. */
  next: string | null;
}

/** A page of the trail for an app acting for a privacy officer; the search is recorded first, as the portal's is. */
export const searchAuditEvents = operation({
  name: 'fhir.audit_event.search',
  action: auditActions.audit.search,
  resourceType: 'audit_log',
  permission: { category: 'audit', name: auditPermission.read },
  deniedMessage: auditTrailDenied,
  input: z.object({ client: clientId, params: auditEventSearch }),
  invalid: invalidSearch,
  auditInvalid: true,
  run: async ({ tx, input, audit }): Promise<Result<AuditEventPage, never>> => {
    const { filter, agent, action, count, cursor } = input.params;
    await audit({ details: { ...describeFilter(filter), ...(agent ? { agent } : {}), ...(action ? { eventAction: action } : {}), client: input.client } });
    const { where } = await conditions(tx, filter);
    if (agent) where.push(eq(auditLog.userId, agent));
    if (action) where.push(actionCondition(action));
    // One extra row says whether a next page exists.
    const rows = await selectPage(tx, where, { before: cursor ?? undefined }, count + 1);
    const entries = rows.slice(0, count);
    return ok({ entries, next: rows.length > count ? cursorOf(entries.at(-1)!) : null });
  },
});

/** One entry by its AuditEvent id (the entry's log id); an unknown or malformed id is null, recorded all the same. */
export const readAuditEvent = operation({
  name: 'fhir.audit_event.read',
  action: auditActions.audit.entryView,
  resourceType: 'audit_log',
  permission: { category: 'audit', name: auditPermission.read },
  deniedMessage: auditTrailDenied,
  input: z.object({ client: clientId, id: z.uuid().nullable().catch(null) }),
  run: async ({ tx, input, audit }): Promise<Result<AuditListEntry | null, never>> => {
    const [entry] = input.id ? await selectAuditEntries(tx, eq(auditLog.logId, input.id), [], 1) : [];
    await audit({ resourceId: entry ? String(entry.seq) : null, details: { client: input.client } });
    return ok(entry ?? null);
  },
});
