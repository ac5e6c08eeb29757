import 'server-only';
import { and, eq, gt, isNull, or, sql, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import { rowsOf, type Queryable } from '@/db/client';
import { breakGlassGrants, careTeam, patients } from '@/db/schema';
import type { Relationship } from '@/lib/domain/access/policy';
import type { Viewer } from '@/lib/domain/access/viewer';
import { now as clockNow } from '@/lib/platform/clock';
import { intactRows, macColumns } from '@/lib/platform/integrity';

/**
 * Who asks. A break-glass grant belongs to the sign-in (session) that justified it, so signing
 * out or timing out ends it: a bare user id (no session) sees care-team relationships only.
 */
export type RelationshipSubject = Pick<Viewer, 'userId' | 'sessionId'>;

export async function loadRelationship(
  q: Queryable,
  subject: RelationshipSubject | string,
  patientId: string,
  at = clockNow(),
): Promise<Relationship> {
  const userId = typeof subject === 'string' ? subject : subject.userId;
  const sessionId = typeof subject === 'string' ? null : subject.sessionId;
  // Every live row, not the first: a user on the team twice (nursing and billing) holds both lenses.
  // A row that fails its MAC (written from outside Vigil) ties nobody to anybody.
  const { team, grants } = await readTies(
    q,
    and(eq(careTeam.userId, userId), eq(careTeam.patientId, patientId), or(isNull(careTeam.untilAt), gt(careTeam.untilAt, at))),
    sessionId
      ? and(
          eq(breakGlassGrants.userId, userId),
          eq(breakGlassGrants.patientId, patientId),
          eq(breakGlassGrants.sessionId, sessionId),
          gt(breakGlassGrants.expiresAt, at),
          isNull(breakGlassGrants.endedAt),
        )
      : null,
  );
  const intactTeam = await intactRows(q, 'care_team', team);
  const [grant] = await intactRows(q, 'break_glass_grants', grants);
  return { careTeam: intactTeam.length ? intactTeam.map((t) => t.relationship) : null, breakGlassGrantId: grant?.id ?? null };
}

type TeamRow = { [K in keyof typeof macColumns.care_team]: (typeof careTeam.$inferSelect)[K] };
type GrantRow = { [K in keyof typeof macColumns.break_glass_grants]: (typeof breakGlassGrants.$inferSelect)[K] };

/** Columns of each tie's patient row a read also takes (PatientJoin), as JSON gives them back (text, numbers, booleans). */
type PatientColumns = Record<string, SQL.Aliased<string | number | boolean | null>>;
type PatientValues<C extends PatientColumns> = { [K in keyof C]: C[K] extends SQL.Aliased<infer V> ? V : never };
/** The tied patient's row, joined to every tie: the patients wanted (`where`, on `patients`) and the columns taken from each. */
interface PatientJoin<C extends PatientColumns> {
  columns: C;
  where?: SQL;
}
type Tie<R, C extends PatientColumns> = R & { patient: PatientValues<C> };

/** The union's columns, in the order each row's JSON array holds them (the patient's columns follow). */
const TIE_COLUMNS = ['kind', 'id', 'patient_id', 'user_id', 'auth_mac', 'relationship', 'until_at', 'session_id', 'expires_at', 'ended_at', 'review_status', 'reviewer_id', 'reviewed_at'] as const;
type TieValue = string | null;
const toDate = (value: TieValue) => (value === null ? null : new Date(value));
const cell = (row: TieValue[], i: number): TieValue => row[i] ?? null;

/**
 * The care-team rows and break-glass grants matching two conditions, in one UNION ALL statement
 * (one round trip, not two), `grants` null for care-team rows only: one patient's
 * (loadRelationship) or a caseload's (reachablePatientIds, reachablePatientRows). With `patient`,
 * each branch is joined to the tie's patient row, so only ties to the patients it wants are read
 * (and checked), each with the columns it asks of that row.
 *
 * The rows come back as one JSON array, not one protocol row each: a caseload of thousands is
 * thousands of rows, and on PGlite decoding each field of each row cost more than running the
 * query (one JSON.parse is a fraction of it).
 */
async function readTies<C extends PatientColumns = Record<string, never>>(
  q: Queryable,
  team: SQL | undefined,
  grants: SQL | undefined | null,
  patient?: PatientJoin<C>,
): Promise<{ team: Array<Tie<TeamRow, C>>; grants: Array<Tie<GrantRow, C>> }> {
  const t = macColumns.care_team;
  const g = macColumns.break_glass_grants;
  const columns = (patient?.columns ?? {}) as C;
  const names = Object.keys(columns);
  const extra = Object.entries(columns).map(([name, column]) => sql`, ${column.sql} as ${sql.identifier(name)}`);
  // Which side leads is fixed here, not left to the planner: PGlite never gathers statistics, and
  // guessing a few ties per viewer it would walk all 5,000 to find a search's one patient. The
  // whole list walks the viewer's ties (each probes its patient); a search walks its blind-index
  // candidates, each probing the viewer's (user, patient) index. OFFSET 0 keeps the LATERAL
  // subquery from being flattened back into a join the planner may reorder; it is named after
  // its table so the columns above read from it.
  const tied = (tieTable: typeof careTeam | typeof breakGlassGrants, tiePatient: AnyPgColumn, where: SQL | undefined) => {
    const live = where ?? sql`true`;
    if (!patient) return sql`from ${tieTable} where ${live}`;
    if (!patient.where) return sql`from ${tieTable} join ${patients} on ${patients.id} = ${tiePatient} where ${live}`;
    return sql`from ${patients} cross join lateral (select * from ${tieTable} where ${tiePatient} = ${patients.id} and ${live} offset 0) as ${tieTable} where ${patient.where}`;
  };
  const teamRows = sql`select 'team' as kind, ${t.id}, ${t.patientId}, ${t.userId}, ${t.authMac}, ${t.relationship}, ${t.untilAt},
    null::uuid as session_id, null::timestamptz as expires_at, null::timestamptz as ended_at, null::text as review_status, null::uuid as reviewer_id, null::timestamptz as reviewed_at
    ${sql.join(extra)} ${tied(careTeam, t.patientId, team)}`;
  const grantRows = sql`select 'grant' as kind, ${g.id}, ${g.patientId}, ${g.userId}, ${g.authMac}, null::text as relationship, null::timestamptz as until_at,
    ${g.sessionId}, ${g.expiresAt}, ${g.endedAt}, ${g.reviewStatus}, ${g.reviewerId}, ${g.reviewedAt}
    ${sql.join(extra)} ${tied(breakGlassGrants, g.patientId, grants ?? undefined)}`;
  const union = grants === null ? teamRows : sql`${teamRows} union all ${grantRows}`;
  const row = sql.join([...TIE_COLUMNS, ...names].map((name) => sql`tie.${sql.identifier(name)}`), sql`, `);
  const [result] = rowsOf<{ ties: string }>(await q.execute(sql`select coalesce(json_agg(json_build_array(${row})), '[]')::text as ties from (${union}) as tie`));
  const out = { team: [] as Array<Tie<TeamRow, C>>, grants: [] as Array<Tie<GrantRow, C>> };
  // No closure per row: thousands of rows, and each closure is an allocation (and a __name call under tsx).
  for (const r of JSON.parse(result?.ties ?? '[]') as TieValue[][]) {
    const [kind, id, patientId, userId, authMac, relationship, untilAt] = [cell(r, 0), cell(r, 1), cell(r, 2), cell(r, 3), cell(r, 4), cell(r, 5), cell(r, 6)];
    const [sessionId, expiresAt, endedAt, reviewStatus, reviewerId, reviewedAt] = [cell(r, 7), cell(r, 8), cell(r, 9), cell(r, 10), cell(r, 11), cell(r, 12)];
    const values = {} as Record<string, unknown>;
    let i = TIE_COLUMNS.length;
    for (const name of names) values[name] = cell(r, i++);
    // Not-null columns of each table's row; a row without them could not be one, and ties nobody.
    if (!id || !patientId || !userId) continue;
    if (kind === 'team' && relationship !== null) out.team.push({ id, patientId, userId, relationship, untilAt: toDate(untilAt), authMac, patient: values as PatientValues<C> });
    else if (kind === 'grant' && sessionId && expiresAt && reviewStatus)
      out.grants.push({ id, userId, patientId, sessionId, expiresAt: new Date(expiresAt), endedAt: toDate(endedAt), reviewStatus, reviewerId, reviewedAt: toDate(reviewedAt), authMac, patient: values as PatientValues<C> });
  }
  return out;
}

/** A live care-team row of the subject's, and a live grant made in this very session: the rules both loaders share. */
const liveTeamRows = (subject: RelationshipSubject, at: Date) => and(eq(careTeam.userId, subject.userId), or(isNull(careTeam.untilAt), gt(careTeam.untilAt, at)));
const liveGrantsOfSession = (subject: RelationshipSubject, at: Date) =>
  and(eq(breakGlassGrants.userId, subject.userId), eq(breakGlassGrants.sessionId, subject.sessionId), gt(breakGlassGrants.expiresAt, at), isNull(breakGlassGrants.endedAt));

/**
 * Every patient the subject is tied to now, by the same rules as loadRelationship: a live
 * care-team row, or a live break-glass grant made in this very session.
 */
export async function reachablePatientIds(q: Queryable, subject: RelationshipSubject, at = clockNow()): Promise<{ onTeam: Set<string>; all: string[] }> {
  const { team, grants } = await readTies(q, liveTeamRows(subject, at), liveGrantsOfSession(subject, at));
  const onTeam = new Set((await intactRows(q, 'care_team', team)).map((r) => r.patientId));
  return { onTeam, all: [...new Set([...onTeam, ...(await intactRows(q, 'break_glass_grants', grants)).map((r) => r.patientId)])] };
}

/**
 * The same patients among those matching `patient.where`, each with `patient.columns` of its row,
 * in one statement: the ties are read joined to their patients, so a search reads and checks the
 * ties of its candidates only, and the whole list reads each tie once. A tie that fails its MAC
 * ties nobody (and is reported); a patient tied by a care-team row is `onTeam`.
 */
export async function reachablePatientRows<C extends PatientColumns>(
  q: Queryable,
  subject: RelationshipSubject,
  at: Date,
  patient: PatientJoin<C>,
): Promise<Array<{ patientId: string; onTeam: boolean; patient: PatientValues<C> }>> {
  const { team, grants } = await readTies(q, liveTeamRows(subject, at), liveGrantsOfSession(subject, at), patient);
  const reachable = new Map<string, { patientId: string; onTeam: boolean; patient: PatientValues<C> }>();
  for (const row of await intactRows(q, 'care_team', team)) reachable.set(row.patientId, { patientId: row.patientId, onTeam: true, patient: row.patient });
  for (const row of await intactRows(q, 'break_glass_grants', grants)) if (!reachable.has(row.patientId)) reachable.set(row.patientId, { patientId: row.patientId, onTeam: false, patient: row.patient });
  return [...reachable.values()];
}
