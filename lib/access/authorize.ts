import 'server-only';
import { and, eq, gt, isNull, or } from 'drizzle-orm';
import type { Queryable } from '@/db/client';
import { breakGlassGrants, careTeam } from '@/db/schema';
import { now as clockNow } from '@/lib/clock';
import { hasPermission } from './permissions';
import { sectionPermission, type ChartSection } from './roles';
import type { Viewer } from './viewer';

export type ChartAction = 'read' | 'write';

/** What ties a viewer to a patient right now. */
export interface Relationship {
  careTeam: string | null;
  breakGlassGrantId: string | null;
}

export type DenialReason = 'no_permission' | 'no_relationship';
export type Decision =
  | { allowed: true; via: 'care_team' | 'break_glass'; breakGlassGrantId: string | null }
  | { allowed: false; reason: DenialReason };

/**
 * The policy, as a pure function: the role must allow the section and action, and the viewer
 * must have a treatment relationship (care team) or an active break-glass grant. Deny by default.
 * `permission` overrides the section permission for field-level writes (billing status).
 */
export function decide(
  viewer: Pick<Viewer, 'permissions'>,
  relationship: Relationship,
  action: ChartAction,
  section: ChartSection,
  permission = sectionPermission(section),
): Decision {
  const category = action === 'read' ? 'ehr_read' : 'ehr_write';
  if (!hasPermission(viewer.permissions, category, permission)) return { allowed: false, reason: 'no_permission' };
  if (relationship.careTeam) return { allowed: true, via: 'care_team', breakGlassGrantId: null };
  if (relationship.breakGlassGrantId) {
    return { allowed: true, via: 'break_glass', breakGlassGrantId: relationship.breakGlassGrantId };
  }
  return { allowed: false, reason: 'no_relationship' };
}

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

export function canBreakGlass(viewer: Pick<Viewer, 'permissions'>): boolean {
  return hasPermission(viewer.permissions, 'emergency', 'break_glass');
}

export function hasAdminPermission(viewer: Pick<Viewer, 'permissions'>, permission: string): boolean {
  return hasPermission(viewer.permissions, 'admin', permission);
}

export function hasAuditPermission(viewer: Pick<Viewer, 'permissions'>, permission: string): boolean {
  return hasPermission(viewer.permissions, 'audit', permission);
}
