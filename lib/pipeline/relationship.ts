import 'server-only';
import { and, eq, gt, isNull, notInArray, or, sql } from 'drizzle-orm';
import { unionAll } from 'drizzle-orm/pg-core';
import type { Queryable } from '@/db/client';
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
  const team = await q
    .select(macColumns.care_team)
    .from(careTeam)
    .where(
      and(
        eq(careTeam.userId, userId),
        eq(careTeam.patientId, patientId),
        or(isNull(careTeam.untilAt), gt(careTeam.untilAt, at)),
      ),
    );
  const grants = sessionId
    ? await q
        .select(macColumns.break_glass_grants)
        .from(breakGlassGrants)
        .where(
          and(
            eq(breakGlassGrants.userId, userId),
            eq(breakGlassGrants.patientId, patientId),
            eq(breakGlassGrants.sessionId, sessionId),
            gt(breakGlassGrants.expiresAt, at),
            isNull(breakGlassGrants.endedAt),
          ),
        )
    : [];
  const intactTeam = await intactRows(q, 'care_team', team);
  const [grant] = await intactRows(q, 'break_glass_grants', grants);
  return { careTeam: intactTeam.length ? intactTeam.map((t) => t.relationship) : null, breakGlassGrantId: grant?.id ?? null };
}

/** A live care-team row of the subject's, and a live grant made in this very session: the rules both loaders share. */
const liveTeamRows = (subject: RelationshipSubject, at: Date) => and(eq(careTeam.userId, subject.userId), or(isNull(careTeam.untilAt), gt(careTeam.untilAt, at)));
const liveGrantsOfSession = (subject: RelationshipSubject, at: Date) =>
  and(eq(breakGlassGrants.userId, subject.userId), eq(breakGlassGrants.sessionId, subject.sessionId), gt(breakGlassGrants.expiresAt, at), isNull(breakGlassGrants.endedAt));

/** The subject's live care-team rows and grants, checked: the intact ones, and the ids of those that failed. */
async function liveRows(q: Queryable, subject: RelationshipSubject, at: Date) {
  const team = await q.select(macColumns.care_team).from(careTeam).where(liveTeamRows(subject, at));
  const grants = await q.select(macColumns.break_glass_grants).from(breakGlassGrants).where(liveGrantsOfSession(subject, at));
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
