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
