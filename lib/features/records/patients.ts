import 'server-only';
import { and, desc, eq, isNotNull, or, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable } from '@/db/client';
import { auditLog, patients } from '@/db/schema';
import { chartPermission } from '@/lib/domain/access/permission-names';
import { fail, ok, type Result } from '@/lib/domain/result';
import { blindIndex, LAST_NAME_PREFIX_LENGTH, normaliseMrn, normaliseName } from '@/lib/platform/crypto';
import { listCards, type ListCard } from '@/lib/features/records/list-cards';
import type { Viewer } from '@/lib/domain/access/viewer';
import { operation } from '@/lib/pipeline/operation';
import { parseEmergencyQuery } from '@/lib/domain/records/emergency-query';
import { auditActions } from '@/lib/domain/audit/actions';

export const PAGE_SIZE = 25;

export const patientSearchSchema = z.object({
  q: z.string().trim().max(100, 'Search for at most 100 characters.').default(''),
  page: z.coerce.number().int().min(1).max(10_000).catch(1),
});

export interface PatientListRow {
  id: string;
  name: string;
  dateOfBirth: string;
  mrn: string;
  sex: string;
  access: 'care_team' | 'break_glass';
}

export interface PatientList {
  rows: PatientListRow[];
  total: number;
  page: number;
  pageCount: number;
  /** The patients the viewer opened last (still theirs to open), newest first; on the unsearched first page only. */
  recent: PatientListRow[];
  /** How the query was read: by MRN, date of birth, last name, or last name and date of birth (or none). */
  searchedBy: SearchKind;
  unavailable: number;
}

type SearchKind = 'none' | 'mrn' | 'dob' | 'last_name' | 'last_name_dob';

export function classifyQuery(q: string): SearchKind {
  if (!q) return 'none';
  if (/^\d{4}-\d{2}-\d{2}$/.test(q)) return 'dob';
  if (/^(mrn[\s:#-]*)?[a-z]{0,3}-?\d{5,}$/i.test(q)) return 'mrn';
  if (pairOf(q)) return 'last_name_dob';
  return 'last_name';
}

/** "Nakamura 1961-04-02": the exact pair an emergency lookup also accepts. */
function pairOf(q: string): { lastName: string; dateOfBirth: string } | null {
  const parsed = parseEmergencyQuery(q);
  return parsed.ok && parsed.query.kind === 'last_name_dob' ? parsed.query : null;
}

/** Blind-index candidates for a query; the decrypted values are checked afterwards. */
function candidateFilter(kind: SearchKind, q: string): SQL | undefined {
  switch (kind) {
    case 'none':
      return undefined;
    case 'dob':
      return eq(patients.dobIndex, blindIndex('dob', q));
    case 'mrn':
      return eq(patients.mrnIndex, blindIndex('mrn', q.replace(/^mrn[\s:#-]*/i, '')));
    case 'last_name_dob': {
      const pair = pairOf(q)!;
      return and(eq(patients.lastNameIndex, blindIndex('last_name', pair.lastName)), eq(patients.dobIndex, blindIndex('dob', pair.dateOfBirth)));
    }
    case 'last_name':
      return normaliseName(q).length >= LAST_NAME_PREFIX_LENGTH
        ? or(eq(patients.lastNameIndex, blindIndex('last_name', q)), eq(patients.lastNamePrefixIndex, blindIndex('last_name_prefix', q)))
        : eq(patients.lastNameIndex, blindIndex('last_name', q));
  }
}

function matches(kind: SearchKind, q: string, d: ListCard): boolean {
  switch (kind) {
    case 'none':
      return true;
    case 'dob':
      return d.dateOfBirth === q;
    case 'mrn':
      return normaliseMrn(d.mrn) === normaliseMrn(q.replace(/^mrn[\s:#-]*/i, ''));
    case 'last_name_dob': {
      const pair = pairOf(q)!;
      return d.dateOfBirth === pair.dateOfBirth && normaliseName(d.familyName) === normaliseName(pair.lastName);
    }
    case 'last_name':
      return normaliseName(d.familyName).startsWith(normaliseName(q));
  }
}

/** A search is audited by kind: a page of the list, or a page of search results. */
const searchAction = (q: string) => (classifyQuery(q) === 'none' ? auditActions.patient.list : auditActions.patient.search);
const queryOf = (raw: unknown) => (raw as { q?: unknown } | null)?.q;

/**
 * The viewer's patients (care team, or an active break-glass grant), optionally searched by
 * MRN, date of birth or last name through blind indexes, sorted by name, one page at a time.
 * Only viewers who may read demographics get a list at all. The search is audited by kind and
 * result count; the query text itself is PHI and is not stored. A search that cannot be run as
 * given (too long) is refused before any query runs, with a plain message.
 */
export const listPatients = operation({
  name: 'records.patient.list',
  action: (raw) => searchAction(String(queryOf(raw) ?? '').trim()),
  resourceType: 'patient',
  permission: { category: 'ehr_read', name: chartPermission.demographics },
  deniedMessage: 'You do not have access to the patient list.',
  input: patientSearchSchema,
  invalid: (error) => fail('invalid', error.issues[0]?.message ?? 'That search could not be run.'),
  run: async ({ tx, viewer, input, at, audit }): Promise<Result<PatientList>> => {
    const { q, page } = input;
    const kind = classifyQuery(q);
    const { rows: found, unavailable } = await reachableMatches(tx, viewer, at, kind, q);
    const total = found.length;
    const pageCount = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const current = Math.min(page, pageCount);
    const rows = found.slice((current - 1) * PAGE_SIZE, current * PAGE_SIZE);
    const recent = kind === 'none' && current === 1 ? await recentlyViewed(tx, viewer, found) : [];
    await audit({
      action: searchAction(q),
      details: { searchedBy: kind, results: total, page: current, shown: rows.map((r) => r.id), ...(recent.length ? { recent: recent.map((r) => r.id) } : {}) },
    });
    return ok({ rows, total, page: current, pageCount, searchedBy: kind, unavailable, recent });
  },
});

export const RECENT_COUNT = 5;

/**
 * The charts the viewer opened last, from their own trail, limited to patients they may still
 * open (already decrypted for the list): a chart opened under a grant that has ended drops out.
 */
async function recentlyViewed(tx: Queryable, viewer: Viewer, reachable: PatientListRow[]): Promise<PatientListRow[]> {
  const byId = new Map(reachable.map((r) => [r.id, r]));
  const views = await tx
    .select({ patientId: auditLog.patientId })
    .from(auditLog)
    .where(and(eq(auditLog.userId, viewer.userId), eq(auditLog.actionType, auditActions.chart.view), eq(auditLog.outcome, 'allowed'), isNotNull(auditLog.patientId)))
    // Newest first along the (user, time) index, so a long trail costs no sort.
    .orderBy(desc(auditLog.occurredAt), desc(auditLog.seq))
    .limit(100);
  const recent: PatientListRow[] = [];
  for (const { patientId } of views) {
    const row = byId.get(patientId!);
    if (row && !recent.includes(row)) recent.push(row);
    if (recent.length === RECENT_COUNT) break;
  }
  return recent;
}

/** Names sort as the clinic reads them (one collator, built once: a caseload sorts thousands). */
const byName = new Intl.Collator().compare;

/** The reachable patients whose sealed demographics match the query, sorted by name. */
async function reachableMatches(q: Queryable, viewer: Viewer, at: Date, kind: SearchKind, query: string): Promise<{ rows: PatientListRow[]; unavailable: number }> {
  const { listed, unavailable } = await listCards(q, viewer, at, candidateFilter(kind, query));
  const rows: PatientListRow[] = [];
  for (const { id, card, onTeam } of listed) {
    if (!matches(kind, query, card)) continue;
    rows.push({
      id,
      name: `${card.familyName}, ${card.givenName}`,
      dateOfBirth: card.dateOfBirth,
      mrn: card.mrn,
      sex: card.sex,
      access: onTeam ? 'care_team' : 'break_glass',
    });
  }
  rows.sort((a, b) => byName(a.name, b.name) || byName(a.id, b.id));
  return { rows, unavailable };
}
