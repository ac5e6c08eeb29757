import 'server-only';
import { chartPermission, type ChartPermission } from '@/lib/domain/access/permission-names';
import { hasPermission, type PermissionSet } from '@/lib/domain/access/permissions';

/**
 * Care-team relationships: the link between a staff member and a patient that opens the chart
 * (`decide()` in ./policy requires one, or an active break-glass grant). What the chart shows is
 * the intersection of the role and what the relationship is for (`relationshipLenses` below): a
 * billing clerk who later also becomes a nurse still reads only the billing lens through the
 * `billing` rows they were given as a clerk.
 *
 * Billing scope: billing staff reach a patient through a care_team row with relationship
 * `billing`, assigned by an admin for the patients whose encounters the billing office works
 * (the seed gives billing@vigil.test the first 100 patients). Through it they see the billing
 * lens only — demographics, insurance, encounters with codes and charges — and make one write,
 * an encounter's billing status. Without the row a billing user is denied like anyone else and,
 * holding no `emergency` permission, is never offered break-glass: payment is not an emergency.
 */
export const careTeamRelationships = ['attending', 'consulting', 'nursing', 'billing'] as const;
export type CareTeamRelationship = (typeof careTeamRelationships)[number];

/**
 * The role a user must hold to be given each relationship, so an assignment always means what
 * it says (an admin cannot, say, give a billing clerk an "attending" row).
 */
export const relationshipRoles: Record<CareTeamRelationship, readonly string[]> = {
  attending: ['physician'],
  consulting: ['physician'],
  nursing: ['nurse'],
  billing: ['billing'],
};

export function mayHoldRelationship(roles: readonly string[], relationship: CareTeamRelationship): boolean {
  return relationshipRoles[relationship].some((role) => roles.includes(role));
}

/**
 * What each relationship lets its holder read and write, whatever their roles allow beyond it.
 * Written out rather than copied from the default roles: an administrator may widen a role, but
 * the meaning of a relationship is the product's, and a widened role never widens it.
 */
const treatingPhysician: PermissionSet = {
  ehr_read: ['patient.*'],
  ehr_write: [chartPermission.progress_notes, chartPermission.problems, chartPermission.medications, chartPermission.allergies],
};

export const relationshipLenses: Record<CareTeamRelationship, PermissionSet> = {
  attending: treatingPhysician,
  consulting: treatingPhysician,
  nursing: {
    ehr_read: [
      chartPermission.demographics,
      chartPermission.allergies,
      chartPermission.medications,
      chartPermission.problems,
      chartPermission.vitals,
      chartPermission.nursing_notes,
    ],
    ehr_write: [chartPermission.vitals, chartPermission.nursing_notes],
  },
  billing: {
    ehr_read: [chartPermission.demographics, chartPermission.insurance, chartPermission.encounters],
    ehr_write: [chartPermission.billingStatus],
  },
};

const isRelationship = (name: string): name is CareTeamRelationship => (careTeamRelationships as readonly string[]).includes(name);

/** Whether one of the viewer's relationships to the patient covers the permission; a name the code does not know covers nothing. */
export function relationshipAllows(relationships: readonly string[], category: 'ehr_read' | 'ehr_write', permission: ChartPermission): boolean {
  return relationships.some((name) => isRelationship(name) && hasPermission(relationshipLenses[name], category, permission));
}
