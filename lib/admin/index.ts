import 'server-only';

export { createUser, setUserRoles, setUserDisabled, resetUserPassword, listUsers, getUser, disableReasons, type UserDetail, type UserSummary, type UserStatus } from './users';
export { listRoles, getRole, updateRolePermissions, type RoleView } from './roles';
export { findPatient, careTeamOf, assignableStaff, assignmentsOf, assignToCareTeam, removeFromCareTeam, type CareTeamMember, type Clinician } from './care-teams';
export { adminMessages, type AdminError, type AdminResult } from './result';
