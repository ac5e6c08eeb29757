import 'server-only';
import { and, eq, sql } from 'drizzle-orm';
import { getDb, type Tx } from '@/db/client';
import { sessions, users } from '@/db/schema';
import { hasAdminPermission } from '@/lib/domain/access/policy';
import { hasPermission, type PermissionSet } from '@/lib/domain/access/permissions';
import type { Viewer } from '@/lib/domain/access/viewer';
import { recordAudit } from '@/lib/platform/audit';
import { confirmReauthentication, isRecentlyReauthenticated } from '@/lib/features/credentials/reauth';
import { loadRolesAndPermissions } from '@/lib/features/credentials/users';
import { auditedRefusals, refuse, type AdminError, type AdminResult } from '@/lib/features/admin/result';

/** Taken by every administrative change, so rule checks ("is this the last admin?") cannot race. */
const ADMIN_CHANGE_LOCK = 0x76_61_64_6d;

export interface AdminChange {
  /** The `admin` permission the change needs (lib/domain/access/admin-rules.ts `adminPermission`). */
  permission: string;
  /** Audit action type, e.g. 'user.disable'. */
  action: string;
  resourceType: 'user' | 'role' | 'care_team' | 'setting' | 'api_client';
  /** The target as the request named it; kept in the audit trail only if it looks like an id. */
  target?: unknown;
  /** The acting admin's password from the form, when the change may need a fresh step-up. */
  password?: string | null;
}

export interface ChangeContext {
  tx: Tx;
  /** The acting admin's roles as they are now, under the lock (not as the request began). */
  actorRoles: string[];
  /** The acting admin entered their password within the re-authentication window. */
  recentlyReauthenticated: boolean;
  /** Records the change as allowed, in the transaction that makes it. Details must be PHI-free. */
  audit(entry: { resourceId: string; patientId?: string | null; details: Record<string, unknown> }): Promise<void>;
}

const idShape = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The pipeline of every administrative change, by construction rather than by memory:
 * permission (deny by default, audited) → optional step-up → one transaction serialised with
 * every other admin change → the change → its audit entry. A refusal under the self-escalation
 * rule is audited as denied in that same transaction; a change that fails writes nothing.
 */
export async function adminChange<T>(
  viewer: Viewer,
  change: AdminChange,
  work: (context: ChangeContext) => Promise<AdminResult<T>>,
): Promise<AdminResult<T>> {
  const db = await getDb();
  if (!hasAdminPermission(viewer, change.permission)) {
    await db.transaction((tx) => auditRefusal(tx, viewer, change, 'denied'));
    return refuse('denied');
  }
  let recentlyReauthenticated: boolean;
  if (change.password) {
    // A wrong password is audited by confirmReauthentication and here, as a refused change.
    recentlyReauthenticated = await confirmReauthentication(viewer, change.password);
    if (!recentlyReauthenticated) {
      await db.transaction((tx) => auditRefusal(tx, viewer, change, 'reauth_failed'));
      return refuse('reauth_failed');
    }
  } else {
    recentlyReauthenticated = await isRecentlyReauthenticated(viewer);
  }
  return db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${ADMIN_CHANGE_LOCK})`);
    // Under the lock, fail closed if another admin disabled this one or took the permission away
    // a moment ago: the viewer's permissions were read when the request began.
    const actor = await actorNow(tx, viewer);
    if (!actor || !hasPermission(actor.permissions, 'admin', change.permission)) {
      await auditRefusal(tx, viewer, change, 'denied');
      return refuse('denied');
    }
    const result = await work({
      tx,
      actorRoles: actor.roles,
      recentlyReauthenticated,
      audit: async ({ resourceId, patientId, details }) => {
        await recordAudit(tx, {
          actor: viewer,
          action: change.action,
          resourceType: change.resourceType,
          resourceId,
          patientId: patientId ?? null,
          outcome: 'allowed',
          details,
        });
      },
    });
    if (!result.ok && auditedRefusals.has(result.error)) await auditRefusal(tx, viewer, change, result.error);
    return result;
  });
}

/** For admin pages: may the viewer see this? A refusal is audited. */
export async function mayRead(viewer: Viewer, permission: string, resourceType: AdminChange['resourceType']): Promise<boolean> {
  if (hasAdminPermission(viewer, permission)) return true;
  const db = await getDb();
  await db.transaction((tx) => auditRefusal(tx, viewer, { permission, action: `${resourceType}.view`, resourceType }, 'denied'));
  return false;
}

/** The actor's current roles and permissions, or null if their account or session has ended. */
async function actorNow(tx: Tx, viewer: Viewer): Promise<{ roles: string[]; permissions: PermissionSet } | null> {
  const [row] = await tx
    .select({ disabledAt: users.disabledAt, revokedAt: sessions.revokedAt })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.id, viewer.sessionId), eq(sessions.userId, viewer.userId)))
    .limit(1);
  if (!row || row.disabledAt || row.revokedAt) return null;
  return loadRolesAndPermissions(tx, viewer.userId);
}

async function auditRefusal(tx: Tx, viewer: Viewer, change: AdminChange, reason: AdminError): Promise<void> {
  const target = typeof change.target === 'string' && idShape.test(change.target) ? change.target : null;
  await recordAudit(tx, {
    actor: viewer,
    action: change.action,
    resourceType: change.resourceType,
    resourceId: target,
    outcome: 'denied',
    details: { reason },
  });
}
