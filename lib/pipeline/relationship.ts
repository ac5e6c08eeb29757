import 'server-only';
import { and, eq, gt, isNull, notInArray, or, sql, type SQL } from 'drizzle-orm';
import { unionAll } from 'drizzle-orm/pg-core';
import type { Queryable } from '@/db/client';
import { builtOnce } from '@/db/statements';
import { breakGlassGrants, careTeam } from '@/db/schema';
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
  const values = { userId, patientId, at: at.toISOString(), sessionId };
  const { team, grants } = sortTies(await (sessionId ? teamAndGrantsOfPatient(q, values) : teamOfPatient(q, values)));
  const intactTeam = await intactRows(q, 'care_team', team);
  const [grant] = await intactRows(q, 'break_glass_grants', grants);
  return { careTeam: intactTeam.length ? intactTeam.map((t) => t.relationship) : null, breakGlassGrantId: grant?.id ?? null };
}

type TeamRow = { [K in keyof typeof macColumns.care_team]: (typeof careTeam.$inferSelect)[K] };
type GrantRow = { [K in keyof typeof macColumns.break_glass_grants]: (typeof breakGlassGrants.$inferSelect)[K] };

/**
 * The care-team rows and the break-glass grants matching two conditions, in one statement (one
 * round trip, not two): a UNION ALL of both tables' MAC columns, each row tagged with its table
 * and the other table's columns null. `grants` null: care-team rows only.
 */
function tiesQuery(q: Queryable, team: SQL | undefined, grants: SQL | undefined | null) {
  const t = macColumns.care_team;
  const g = macColumns.break_glass_grants;
  // The grant columns of a care-team row: null, decoded as the grant's own columns (the union's first select decodes every row).
  const none = <T>(column: { mapFromDriverValue(value: unknown): unknown }, type: string) =>
    sql`null::${sql.raw(type)}`.mapWith((value: unknown) => column.mapFromDriverValue(value) as T | null);
  const teamRows = q
    .select({
      kind: sql<'team' | 'grant'>`'team'`.as('kind'),
      id: t.id,
      patientId: t.patientId,
      userId: t.userId,
      authMac: t.authMac,
      relationship: t.relationship,
      untilAt: t.untilAt,
      sessionId: none<string>(g.sessionId, 'uuid').as('session_id'),
      expiresAt: none<Date>(g.expiresAt, 'timestamptz').as('expires_at'),
      endedAt: none<Date>(g.endedAt, 'timestamptz').as('ended_at'),
      reviewStatus: none<string>(g.reviewStatus, 'text').as('review_status'),
      reviewerId: none<string>(g.reviewerId, 'uuid').as('reviewer_id'),
      reviewedAt: none<Date>(g.reviewedAt, 'timestamptz').as('reviewed_at'),
    })
    .from(careTeam)
    .where(team);
  return grants
    ? unionAll(
        teamRows,
        q
          .select({
            kind: sql<'team' | 'grant'>`'grant'`.as('kind'),
            id: g.id,
            patientId: g.patientId,
            userId: g.userId,
            authMac: g.authMac,
            relationship: sql<string>`null::text`.as('relationship'),
            untilAt: sql<Date | null>`null::timestamptz`.as('until_at'),
            sessionId: g.sessionId,
            expiresAt: g.expiresAt,
            endedAt: g.endedAt,
            reviewStatus: g.reviewStatus,
            reviewerId: g.reviewerId,
            reviewedAt: g.reviewedAt,
          })
          .from(breakGlassGrants)
          .where(grants),
      )
    : teamRows;
}

/** The rows of a tiesQuery, each back in its own table's shape. */
function sortTies(rows: Awaited<ReturnType<typeof tiesQuery>>): { team: TeamRow[]; grants: GrantRow[] } {
  const out = { team: [] as TeamRow[], grants: [] as GrantRow[] };
  for (const r of rows) {
    if (r.kind === 'team') out.team.push({ id: r.id, patientId: r.patientId, userId: r.userId, relationship: r.relationship, untilAt: r.untilAt, authMac: r.authMac });
    // Not-null columns of a grant row; a row without them could not be one, and ties nobody.
    else if (r.sessionId !== null && r.expiresAt !== null && r.reviewStatus !== null)
      out.grants.push({ id: r.id, userId: r.userId, patientId: r.patientId, sessionId: r.sessionId, expiresAt: r.expiresAt, endedAt: r.endedAt, reviewStatus: r.reviewStatus, reviewerId: r.reviewerId, reviewedAt: r.reviewedAt, authMac: r.authMac });
  }
  return out;
}

/** loadRelationship's statements (every chart open and write runs one), built once; with a session, its grants too. */
const patientTeam = and(
  eq(careTeam.userId, sql.placeholder('userId')),
  eq(careTeam.patientId, sql.placeholder('patientId')),
  or(isNull(careTeam.untilAt), gt(careTeam.untilAt, sql.placeholder('at'))),
);
const teamOfPatient = builtOnce('relationship_team', (q) => tiesQuery(q, patientTeam, null));
const teamAndGrantsOfPatient = builtOnce('relationship_team_and_grants', (q) =>
  tiesQuery(
    q,
    patientTeam,
    and(
      eq(breakGlassGrants.userId, sql.placeholder('userId')),
      eq(breakGlassGrants.patientId, sql.placeholder('patientId')),
      eq(breakGlassGrants.sessionId, sql.placeholder('sessionId')),
      gt(breakGlassGrants.expiresAt, sql.placeholder('at')),
      isNull(breakGlassGrants.endedAt),
    ),
  ),
);

/** A live care-team row of the subject's, and a live grant made in this very session: the rules both loaders share. */
const liveTeamRows = (subject: RelationshipSubject, at: Date) => and(eq(careTeam.userId, subject.userId), or(isNull(careTeam.untilAt), gt(careTeam.untilAt, at)));
const liveGrantsOfSession = (subject: RelationshipSubject, at: Date) =>
  and(eq(breakGlassGrants.userId, subject.userId), eq(breakGlassGrants.sessionId, subject.sessionId), gt(breakGlassGrants.expiresAt, at), isNull(breakGlassGrants.endedAt));

/** The subject's live care-team rows and grants, checked: the intact ones, and the ids of those that failed. */
async function liveRows(q: Queryable, subject: RelationshipSubject, at: Date) {
  const { team, grants } = sortTies(await tiesQuery(q, liveTeamRows(subject, at), liveGrantsOfSession(subject, at)));
  const intactTeam = await intactRows(q, 'care_team', team);
  const intactGrants = await intactRows(q, 'break_glass_grants', grants);
  const failed = (rows: Array<{ id: string }>, kept: Array<{ id: string }>) => {
    const intact = new Set(kept);
    return rows.filter((r) => !intact.has(r)).map((r) => r.id);
  };
  return { team: intactTeam, grants: intactGrants, failedTeam: failed(team, intactTeam), failedGrants: failed(grants, intactGrants) };
}

/**
 * Every patient the subject is tied to now, by the same rules as loadRelationship: a live
 * care-team row, or a live break-glass grant made in this very session.
 */
export async function reachablePatientIds(q: Queryable, subject: RelationshipSubject, at = clockNow()): Promise<{ onTeam: Set<string>; all: string[] }> {
  const { team, grants } = await liveRows(q, subject, at);
  const onTeam = new Set(team.map((r) => r.patientId));
  return { onTeam, all: [...new Set([...onTeam, ...grants.map((r) => r.patientId)])] };
}

/**
 * The same patients as a subquery (`patient_id`, and `on_team` when a care-team row ties them),
 * for a caseload of thousands to be joined against in the database rather than sent back to it
 * as thousands of ids. The rows are read and checked first (one HMAC each, small columns only);
 * the subquery leaves out any that failed — almost always none, so it is the same query as ever.
 */
export async function reachablePatients(q: Queryable, subject: RelationshipSubject, at = clockNow()) {
  const { failedTeam, failedGrants } = await liveRows(q, subject, at);
  const tied = unionAll(
    q
      .select({ patientId: careTeam.patientId, onTeam: sql<boolean>`true`.as('on_team') })
      .from(careTeam)
      .where(and(liveTeamRows(subject, at), failedTeam.length ? notInArray(careTeam.id, failedTeam) : undefined)),
    q
      .select({ patientId: breakGlassGrants.patientId, onTeam: sql<boolean>`false`.as('on_team') })
      .from(breakGlassGrants)
      .where(and(liveGrantsOfSession(subject, at), failedGrants.length ? notInArray(breakGlassGrants.id, failedGrants) : undefined)),
  ).as('tied');
  return q
    .select({ patientId: tied.patientId, onTeam: sql<boolean>`bool_or(${tied.onTeam})`.as('on_team') })
    .from(tied)
    .groupBy(tied.patientId)
    .as('reachable');
}
