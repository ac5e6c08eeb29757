import { relationshipAllows } from '@/lib/domain/access/care-team';
import { hasPermission } from '@/lib/domain/access/permissions';
import { emergencyPermission, type AdminPermission, type AuditPermission, type ChartPermission } from '@/lib/domain/access/permission-names';
import { sectionPermission, type ChartSection } from '@/lib/domain/access/roles';
import type { Viewer } from '@/lib/domain/access/viewer';

export type ChartAction = 'read' | 'write';

/** What ties a viewer to a patient right now. */
export interface Relationship {
  /** The live care-team relationship types (attending, nursing, ...), or null when there is none. */
  careTeam: readonly string[] | null;
  breakGlassGrantId: string | null;
}

export type DenialReason = 'no_permission' | 'no_relationship';
export type Decision =
  | { allowed: true; via: 'care_team' | 'break_glass'; breakGlassGrantId: string | null }
  | { allowed: false; reason: DenialReason };

/**
 * The policy, as a pure function: the role must allow the section and action, and the viewer
 * must have a treatment relationship (care team) that allows it too, or an active break-glass
 * grant. A care-team row opens only the intersection of the role and the relationship's lens;
 * beyond it the section is refused as outside the viewer's permission, unless a break-glass
 * grant covers it. Deny by default.
 * `permission` overrides the section permission for field-level writes (billing status).
 */
export function decide(
  viewer: Pick<Viewer, 'permissions'>,
  relationship: Relationship,
  action: ChartAction,
  section: ChartSection,
  permission: ChartPermission = sectionPermission(section),
): Decision {
  const category = action === 'read' ? 'ehr_read' : 'ehr_write';
  if (!hasPermission(viewer.permissions, category, permission)) return { allowed: false, reason: 'no_permission' };
  if (relationship.careTeam && relationshipAllows(relationship.careTeam, category, permission)) {
    return { allowed: true, via: 'care_team', breakGlassGrantId: null };
  }
  if (relationship.breakGlassGrantId) {
    return { allowed: true, via: 'break_glass', breakGlassGrantId: relationship.breakGlassGrantId };
  }
  return { allowed: false, reason: relationship.careTeam ? 'no_permission' : 'no_relationship' };
}

export function canBreakGlass(viewer: Pick<Viewer, 'permissions'>): boolean {
  return hasPermission(viewer.permissions, 'emergency', emergencyPermission.breakGlass);
}

export function hasAdminPermission(viewer: Pick<Viewer, 'permissions'>, permission: AdminPermission): boolean {
  return hasPermission(viewer.permissions, 'admin', permission);
}

export function hasAuditPermission(viewer: Pick<Viewer, 'permissions'>, permission: AuditPermission): boolean {
  return hasPermission(viewer.permissions, 'audit', permission);
}
