import 'server-only';
import { cache } from 'react';
import { redirect } from 'next/navigation';
import { getDb } from '@/db/client';
import type { Viewer } from '@/lib/access/viewer';
import { recordAudit } from '@/lib/audit';
import { auth } from './next-auth';
import { clientInfo } from './request';
import { checkSession, type SessionInvalidReason } from './sessions';
import { loadRolesAndPermissions } from './users';

export type ViewerState = { viewer: Viewer } | { viewer: null; reason: SessionInvalidReason | 'signed_out' };

/**
 * Resolves the request's viewer from the database once per request (React cache). Every page,
 * action and route handler goes through here; the proxy's cookie check is only a shortcut.
 */
export const getViewerState = cache(async (): Promise<ViewerState> => {
  const session = (await auth()) as { sid?: unknown } | null;
  const sid = typeof session?.sid === 'string' ? session.sid : null;
  if (!sid || !/^[0-9a-f-]{36}$/i.test(sid)) return { viewer: null, reason: 'signed_out' };
  const db = await getDb();
  const check = await checkSession(db, sid);
  const client = await clientInfo();
  if (!check.valid) {
    if (check.reason === 'idle' || check.reason === 'expired') {
      await db.transaction((tx) =>
        recordAudit(tx, {
          actor: { userId: check.userId ?? null, ...client },
          action: check.reason === 'idle' ? 'session.timeout' : 'session.expired',
          resourceType: 'session',
          resourceId: sid,
          outcome: 'denied',
        }),
      );
    }
    return { viewer: null, reason: check.reason };
  }
  const { roles, permissions } = await loadRolesAndPermissions(db, check.user.id);
  return {
    viewer: {
      userId: check.user.id,
      sessionId: check.session.id,
      email: check.user.email,
      displayName: check.user.displayName,
      roles,
      permissions,
      ...client,
    },
  };
});

export async function getViewer(): Promise<Viewer | null> {
  return (await getViewerState()).viewer;
}

/** For pages and actions: the viewer, or a redirect to sign-in saying why. */
export async function requireViewer(): Promise<Viewer> {
  const state = await getViewerState();
  if (state.viewer) return state.viewer;
  redirect(state.reason === 'idle' ? '/login?reason=timeout' : state.reason === 'signed_out' ? '/login' : `/login?reason=${state.reason}`);
}

/** The landing page for a viewer's roles. */
export function homeFor(viewer: Viewer): string {
  if (viewer.permissions.ehr_read?.length) return '/patients';
  if (viewer.permissions.audit?.length) return '/admin/audit';
  if (viewer.permissions.admin?.length) return '/admin/users';
  return '/account';
}
