import 'server-only';
import { and, eq, gt, isNull, or } from 'drizzle-orm';
import type { Queryable } from '@/db/client';
import { breakGlassGrants, careTeam } from '@/db/schema';
import type { Relationship } from '@/lib/domain/access/policy';
import type { Viewer } from '@/lib/domain/access/viewer';
import { now as clockNow } from '@/lib/platform/clock';

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
  const [team] = await q
    .select({ relationship: careTeam.relationship })
    .from(careTeam)
    .where(
      and(
        eq(careTeam.userId, userId),
        eq(careTeam.patientId, patientId),
        or(isNull(careTeam.untilAt), gt(careTeam.untilAt, at)),
      ),
    )
    .limit(1);
  const [grant] = sessionId
    ? await q
        .select({ id: breakGlassGrants.id })
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
        .limit(1)
    : [];
  return { careTeam: team?.relationship ?? null, breakGlassGrantId: grant?.id ?? null };
}

/**
 * Every patient the subject is tied to now, by the same rules as loadRelationship: a live
 * care-team row, or a live break-glass grant made in this very session.
 */
export async function reachablePatientIds(q: Queryable, subject: RelationshipSubject, at = clockNow()): Promise<{ onTeam: Set<string>; all: string[] }> {
  const teamRows = await q
    .select({ patientId: careTeam.patientId })
    .from(careTeam)
    .where(and(eq(careTeam.userId, subject.userId), or(isNull(careTeam.untilAt), gt(careTeam.untilAt, at))));
  const grantRows = await q
    .select({ patientId: breakGlassGrants.patientId })
    .from(breakGlassGrants)
    .where(
      and(
        eq(breakGlassGrants.userId, subject.userId),
        eq(breakGlassGrants.sessionId, subject.sessionId),
        gt(breakGlassGrants.expiresAt, at),
        isNull(breakGlassGrants.endedAt),
      ),
    );
  const onTeam = new Set(teamRows.map((r) => r.patientId));
  return { onTeam, all: [...new Set([...onTeam, ...grantRows.map((r) => r.patientId)])] };
}
