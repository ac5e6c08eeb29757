import 'server-only';
import { and, eq, gt, inArray, isNull, or, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { getDb } from '@/db/client';
import { breakGlassGrants, careTeam, patients } from '@/db/schema';
import { hasPermission } from '@/lib/domain/access/permissions';
import type { Viewer } from '@/lib/domain/access/viewer';
import { recordAudit } from '@/lib/platform/audit';
import { now as clockNow } from '@/lib/platform/clock';
import { blindIndex, DecryptionError, getPatientCiphers, LAST_NAME_PREFIX_LENGTH, normaliseMrn, normaliseName } from '@/lib/platform/crypto';
import type { Demographics } from '@/lib/domain/chart/sections';

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
  /** How the query was read: by MRN, date of birth or last name (or none). */
  searchedBy: SearchKind;
  unavailable: number;
  /** A plain message when the search could not be run as given (nothing is listed then). */
  problem: string | null;
}

type SearchKind = 'none' | 'mrn' | 'dob' | 'last_name';

export function classifyQuery(q: string): SearchKind {
  if (!q) return 'none';
  if (/^\d{4}-\d{2}-\d{2}$/.test(q)) return 'dob';
  if (/^(mrn[\s:#-]*)?[a-z]{0,3}-?\d{5,}$/i.test(q)) return 'mrn';
  return 'last_name';
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
    case 'last_name':
      return normaliseName(q).length >= LAST_NAME_PREFIX_LENGTH
        ? or(eq(patients.lastNameIndex, blindIndex('last_name', q)), eq(patients.lastNamePrefixIndex, blindIndex('last_name_prefix', q)))
        : eq(patients.lastNameIndex, blindIndex('last_name', q));
  }
}

function matches(kind: SearchKind, q: string, d: Demographics): boolean {
  switch (kind) {
    case 'none':
      return true;
    case 'dob':
      return d.dateOfBirth === q;
    case 'mrn':
      return normaliseMrn(d.mrn) === normaliseMrn(q.replace(/^mrn[\s:#-]*/i, ''));
    case 'last_name':
      return normaliseName(d.familyName).startsWith(normaliseName(q));
  }
}

/**
 * The viewer's patients (care team, or an active break-glass grant), optionally searched by
 * MRN, date of birth or last name through blind indexes, sorted by name, one page at a time.
 * Only viewers who may read demographics get a list at all. The search is audited by kind and
 * result count; the query text itself is PHI and is not stored.
 */
export async function listPatients(viewer: Viewer, input: { q?: string; page?: number | string }): Promise<PatientList> {
  const parsed = patientSearchSchema.safeParse({ q: input.q ?? '', page: input.page ?? 1 });
  if (!parsed.success) {
    // Refused before any query runs; the page shows why instead of failing.
    const problem = parsed.error.issues[0]?.message ?? 'That search could not be run.';
    return { rows: [], total: 0, page: 1, pageCount: 1, searchedBy: 'none', unavailable: 0, problem };
  }
  const { q, page } = parsed.data;
  const kind = classifyQuery(q);
  const empty: PatientList = { rows: [], total: 0, page: 1, pageCount: 1, searchedBy: kind, unavailable: 0, problem: null };
  const db = await getDb();
  if (!hasPermission(viewer.permissions, 'ehr_read', 'patient.demographics')) return empty;

  const at = clockNow();
  const teamRows = await db
    .select({ patientId: careTeam.patientId })
    .from(careTeam)
    .where(and(eq(careTeam.userId, viewer.userId), or(isNull(careTeam.untilAt), gt(careTeam.untilAt, at))));
  const grantRows = await db
    .select({ patientId: breakGlassGrants.patientId })
    .from(breakGlassGrants)
    .where(
      and(
        eq(breakGlassGrants.userId, viewer.userId),
        // A grant counts only for the sign-in that made it (see loadRelationship).
        eq(breakGlassGrants.sessionId, viewer.sessionId),
        gt(breakGlassGrants.expiresAt, at),
        isNull(breakGlassGrants.endedAt),
      ),
    );
  const onTeam = new Set(teamRows.map((r) => r.patientId));
  const reachable = [...new Set([...onTeam, ...grantRows.map((r) => r.patientId)])];

  let rows: PatientListRow[] = [];
  let unavailable = 0;
  if (reachable.length > 0) {
    const filter = candidateFilter(kind, q);
    const candidates = [];
    // Chunked so a large caseload never builds one enormous parameter list.
    for (let i = 0; i < reachable.length; i += 5_000) {
      const chunk = reachable.slice(i, i + 5_000);
      candidates.push(
        ...(await db
          .select({ id: patients.id, sealed: patients.sealedDemographics })
          .from(patients)
          .where(filter ? and(inArray(patients.id, chunk), filter) : inArray(patients.id, chunk))),
      );
    }
    const { ciphers } = await getPatientCiphers(db, candidates.map((c) => c.id));
    for (const candidate of candidates) {
      const cipher = ciphers.get(candidate.id);
      if (!cipher) continue;
      let d: Demographics;
      try {
        d = cipher.open<Demographics>('patients', 'sealed_demographics', candidate.id, candidate.sealed);
      } catch (error) {
        if (!(error instanceof DecryptionError)) throw error;
        unavailable += 1;
        continue;
      }
      if (!matches(kind, q, d)) continue;
      rows.push({
        id: candidate.id,
        name: `${d.familyName}, ${d.givenName}`,
        dateOfBirth: d.dateOfBirth,
        mrn: d.mrn,
        sex: d.sex,
        access: onTeam.has(candidate.id) ? 'care_team' : 'break_glass',
      });
    }
    rows.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }
  const total = rows.length;
  const pageCount = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const current = Math.min(page, pageCount);
  rows = rows.slice((current - 1) * PAGE_SIZE, current * PAGE_SIZE);

  await db.transaction((tx) =>
    recordAudit(tx, {
      actor: viewer,
      action: kind === 'none' ? 'patient.list' : 'patient.search',
      resourceType: 'patient',
      outcome: 'allowed',
      details: { searchedBy: kind, results: total, page: current, shown: rows.map((r) => r.id) },
    }),
  );
  return { rows, total, page: current, pageCount, searchedBy: kind, unavailable, problem: null };
}
