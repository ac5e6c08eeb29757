import 'server-only';
import type { PermissionSet } from '@/lib/domain/access/permissions';

/** The signed-in person making a request, as every lib/ function receives them. */
export interface Viewer {
  userId: string;
  sessionId: string;
  email: string;
  displayName: string;
  roles: string[];
  permissions: PermissionSet;
  ip: string | null;
  userAgent: string | null;
}
