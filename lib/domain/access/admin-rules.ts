import 'server-only';
import { hasPermission, patternMatches, permissionCategories, type PermissionCategory, type PermissionSet } from '@/lib/domain/access/permissions';
import { adminPermission, permissionNames } from '@/lib/domain/access/permission-names';
import { chartSections } from '@/lib/domain/access/roles';

/*
 * The self-escalation rule, enforced by lib/features/admin (every refusal is audited as a denied action):
 *
 * 1. Nobody administers their own account: an admin cannot change their own roles, disable or
 *    enable themselves, reset their own password here, or put themselves on a care team. An
 *    admin who also treats patients asks another admin for the clinical role.
 * 2. Nobody edits the permissions of a role they hold — that is rule 1 by the back door.
 * 3. Granting power needs a fresh password: assigning a role, creating a user with roles,
 *    adding a permission pattern to a role, re-enabling an account or resetting someone's
 *    password (which hands the admin that account) requires the acting admin to have entered
 *    their password within the re-authentication window (lib/features/credentials/reauth). Every permission
 *    category reaches PHI, the audit trail or administration, so every grant counts. Taking
 *    power away (removing roles or patterns, disabling) needs no step-up.
 * 4. The last enabled administrator — a user whose roles grant `admin: users.assign_roles` —
 *    cannot be disabled or have that permission edited out of their role: someone must always
 *    be able to repair access. (Role assignment cannot strip them: whoever assigns roles is
 *    an administrator and, by rule 1, not the target.) lib/features/admin serialises admin changes and
 *    re-reads the actor's roles under that lock, so two admins cannot remove each other at once.
 */

/** True when a permission set grants anything at all (every category is a power). */
export function grantsPermissions(set: PermissionSet): boolean {
  return permissionCategories.some((category) => (set[category] ?? []).length > 0);
}

/** True when `after` holds any pattern that `before` does not: the edit grants something new. */
export function addsPermissions(before: PermissionSet, after: PermissionSet): boolean {
  return permissionCategories.some((category) => {
    const had = new Set(before[category] ?? []);
    return (after[category] ?? []).some((pattern) => !had.has(pattern));
  });
}

/** An administrator in the sense of rule 4: able to assign roles, hence to repair access. */
export function canAdminister(set: PermissionSet): boolean {
  return hasPermission(set, 'admin', adminPermission.assignRoles);
}

/**
 * What each category's patterns can name, so a typo ("patient.vitalz") is refused instead of
 * silently granting nothing. Clinical patterns must match at least one registered chart
 * permission; the other categories must start with an area (first segment) of a registered one,
 * so that a role may hold `incidents.*` before every incidents permission exists.
 */
const areaOf = (name: string) => name.split('.')[0] ?? name;
const areasOf = (names: readonly string[]) => [...new Set(names.map(areaOf))];
const knownAreas: Record<Exclude<PermissionCategory, 'ehr_read' | 'ehr_write'>, readonly string[]> = {
  emergency: areasOf(permissionNames.emergency),
  admin: areasOf(permissionNames.admin),
  audit: areasOf(permissionNames.audit),
};

export function namesKnownPermission(category: PermissionCategory, pattern: string): boolean {
  if (pattern === '*') return true;
  if (category === 'ehr_read' || category === 'ehr_write') return permissionNames[category].some((p) => patternMatches(pattern, p));
  return knownAreas[category].includes(areaOf(pattern));
}

/** A hint for the role editor: what a category's patterns may name. */
export function describeKnownAreas(category: PermissionCategory): string {
  if (category === 'ehr_read' || category === 'ehr_write') return `patient.<section> (${chartSections.join(', ')}), patient.encounters.billing_status or patient.*`;
  return knownAreas[category].map((area) => `${area}.*`).join(', ');
}
