import 'server-only';

export { createUser, setUserRoles, setUserDisabled, resetUserPassword, disableReasons } from '@/lib/features/admin/users';
export { listUsers, getUser, type UserDetail, type UserSummary, type UserStatus } from '@/lib/features/admin/user-directory';
export { listRoles, getRole, updateRolePermissions, type RoleView } from '@/lib/features/admin/roles';
export { listSsoMappings, addSsoMapping, removeSsoMapping, type SsoMappingView } from '@/lib/features/admin/sso-mappings';
export { findPatient, careTeamOf, assignableStaff, assignmentsOf, assignToCareTeam, removeFromCareTeam, type Assignment, type CareTeamMember, type Clinician } from '@/lib/features/admin/care-teams';
export { listAdminRequests, decideAdminRequest, type RequestView } from '@/lib/features/admin/approvals';
