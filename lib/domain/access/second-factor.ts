import 'server-only';
import type { PermissionSet } from '@/lib/domain/access/permissions';

/**
 * Whoever may administer accounts or roles, or read the audit trail, holds the keys to everyone
 * else's access: such an account is never protected by a password alone (in production mode;
 * lib/features/credentials/config.ts). Judged by permissions, not role names, so a custom role
 * with an admin permission is held to the same rule.
 */
export function needsSecondFactor(permissions: PermissionSet): boolean {
  return (permissions.admin?.length ?? 0) > 0 || (permissions.audit?.length ?? 0) > 0;
}
