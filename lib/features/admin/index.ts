import 'server-only';

export { createUser, setUserRoles, setUserDisabled, resetUserPassword, listUsers, getUser, disableReasons, type UserDetail, type UserSummary, type UserStatus } from '@/lib/features/admin/users';
export { listRoles, getRole, updateRolePermissions, type RoleView } from '@/lib/features/admin/roles';
export { findPatient, careTeamOf, assignableStaff, assignmentsOf, assignToCareTeam, removeFromCareTeam, type CareTeamMember, type Clinician } from '@/lib/features/admin/care-teams';
export { adminMessages, type AdminError, type AdminResult } from '@/lib/features/admin/result';
