import 'server-only';

/**
 * Care-team relationships: the link between a staff member and a patient that opens the chart
 * (`decide()` in ./authorize requires one, or an active break-glass grant). The role still
 * decides what the chart shows; the relationship only decides whether it opens at all.
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
