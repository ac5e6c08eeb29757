import 'server-only';

/**
 * Every permission a check can ask for, by category, written down once. Checks take the
 * category's type (hasPermission, hasAdminPermission, hasAuditPermission, the pipeline's
 * RequiredPermission), so a misspelt permission fails to compile instead of granting nothing.
 * Roles hold patterns (lib/domain/access/permissions.ts), which may name a whole area with `.*`.
 */

/**
 * `ehr_read` and `ehr_write`: a chart section (keyed by section, so lib/domain/access/roles.ts
 * `sectionPermission` fails to compile if one is missing), or billing's one field of an encounter.
 */
export const chartPermission = {
  demographics: 'patient.demographics',
  insurance: 'patient.insurance',
  allergies: 'patient.allergies',
  medications: 'patient.medications',
  problems: 'patient.problems',
  vitals: 'patient.vitals',
  progress_notes: 'patient.progress_notes',
  nursing_notes: 'patient.nursing_notes',
  encounters: 'patient.encounters',
  billingStatus: 'patient.encounters.billing_status',
} as const;

export const emergencyPermission = {
  breakGlass: 'break_glass',
} as const;

/** The administrative actions (the built-in admin role has them all). */
export const adminPermission = {
  readUsers: 'users.read',
  createUsers: 'users.create',
  disableUsers: 'users.disable',
  resetPasswords: 'users.reset_password',
  assignRoles: 'users.assign_roles',
  readRoles: 'roles.read',
  editRoles: 'roles.edit',
  readCareTeams: 'care_teams.read',
  assignCareTeams: 'care_teams.assign',
  breakGlassSettings: 'settings.break_glass',
  monitorSettings: 'settings.monitor',
  /** The master keys' lifecycle page: versions, ages and due dates, never a key. */
  keyLifecycle: 'settings.keys',
  readApiClients: 'api_clients.read',
  issueApiClients: 'api_clients.issue',
  revokeApiClients: 'api_clients.revoke',
  scopeApiClients: 'api_clients.scope',
  /** SMART apps and backend clients: API clients too, so the admin role's `api_clients.*` holds them. */
  readSmartApps: 'api_clients.smart.read',
  registerSmartApps: 'api_clients.smart.register',
  revokeSmartApps: 'api_clients.smart.revoke',
} as const;

/** Privacy review: the audit trail, break-glass grants, incidents and disclosures. */
export const auditPermission = {
  read: 'audit.read',
  export: 'audit.export',
  verify: 'audit.verify',
  /** Opening sealed before/after state of one entry: a PHI access of that entry's patient. */
  revealState: 'audit.reveal_state',
  disclosures: 'disclosures.read',
  reviewBreakGlass: 'break_glass.review',
  viewIncidents: 'incidents.view',
  resolveIncidents: 'incidents.resolve',
} as const;

export type ChartPermission = (typeof chartPermission)[keyof typeof chartPermission];
export type EmergencyPermission = (typeof emergencyPermission)[keyof typeof emergencyPermission];
export type AdminPermission = (typeof adminPermission)[keyof typeof adminPermission];
export type AuditPermission = (typeof auditPermission)[keyof typeof auditPermission];

/** The permissions each category's checks may ask for (its keys are the permission categories). */
export interface PermissionNames {
  ehr_read: ChartPermission;
  ehr_write: ChartPermission;
  emergency: EmergencyPermission;
  admin: AdminPermission;
  audit: AuditPermission;
}
type Category = keyof PermissionNames;
export type PermissionName<C extends Category = Category> = PermissionNames[C];

/** A permission with its category, as an operation requires it; the name must be the category's. */
export type CategorisedPermission = { [C in Category]: { category: C; name: PermissionNames[C] } }[Category];

/** Every registered permission of each category. */
export const permissionNames: { readonly [C in Category]: readonly PermissionNames[C][] } = {
  ehr_read: Object.values(chartPermission),
  ehr_write: Object.values(chartPermission),
  emergency: Object.values(emergencyPermission),
  admin: Object.values(adminPermission),
  audit: Object.values(auditPermission),
};
