import 'server-only';

export { createUser, setUserRoles, setUserDisabled, resetUserPassword, disableReasons } from '@/lib/features/admin/users';
export { listUsers, getUser, type UserDetail, type UserSummary, type UserStatus } from '@/lib/features/admin/user-directory';
export { listRoles, getRole, updateRolePermissions, type RoleView } from '@/lib/features/admin/roles';
export { findPatient, careTeamOf, assignableStaff, assignmentsOf, assignToCareTeam, removeFromCareTeam, type CareTeamMember, type Clinician } from '@/lib/features/admin/care-teams';
