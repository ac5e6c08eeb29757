import 'server-only';
import { cache } from 'react';
import { redirect } from 'next/navigation';
import { getDb } from '@/db/client';
import type { Viewer } from '@/lib/domain/access/viewer';
import { currentSessionId } from '@/lib/features/auth/next-auth';
import { clientInfo } from '@/lib/features/auth/request';
import type { Touch } from '@/lib/features/credentials/sessions';
import { gateViewer, resolveViewerState, type GateOptions, type ViewerState } from '@/lib/features/auth/viewer-state';

export { MFA_ENROLMENT_PATH, PASSWORD_CHANGE_PATH, type ViewerState } from '@/lib/features/auth/viewer-state';

async function stateFor(touch: Touch): Promise<ViewerState> {
  // Cookies and headers first: during `next build` they end prerendering before the database
  // is opened (a build that opened it would hold the embedded database's lock).
  const sessionId = await currentSessionId();
  const client = await clientInfo();
  return resolveViewerState(await getDb(), sessionId, client, { touch });
}

/**
 * Resolves the request's viewer from the database once per request (React cache). Every page,
 * action and route handler goes through here; the proxy's cookie check is only a shortcut.
 */
export const getViewerState = cache((): Promise<ViewerState> => stateFor('throttled'));

/**
 * The viewer, or null. Null too for an account that must still enrol in required MFA, so code
 * that only asks "who is this?" fails closed; use getViewerState to see such an account.
 */
export async function getViewer(): Promise<Viewer | null> {
  const state = await getViewerState();
  return state.viewer && !state.mfaEnrolmentPending && !state.passwordChangePending ? state.viewer : null;
}

/**
 * For pages and actions: the viewer, or a redirect to sign-in saying why (or to MFA enrolment
 * when it is required and missing, unless the caller is part of enrolment).
 */
export async function requireViewer(options: GateOptions = {}): Promise<Viewer> {
  const gate = gateViewer(await getViewerState(), options);
  if (!gate.allow) redirect(gate.redirectTo);
  return gate.viewer;
}

/** Like requireViewer, with the session's remaining time (the portal layout feeds the idle warning). */
export async function requireViewerState(options: GateOptions = {}): Promise<Extract<ViewerState, { viewer: Viewer }>> {
  const state = await getViewerState();
  const gate = gateViewer(state, options);
  if (!gate.allow || !state.viewer) redirect(gate.allow ? '/login' : gate.redirectTo);
  return state;
}

/** "Stay signed in": a real round trip that always counts as activity. */
export const keepSessionAlive = (): Promise<ViewerState> => stateFor('always');

/** The browser's countdown ran out: what does the server say, without counting the question as activity? */
export const peekSession = (): Promise<ViewerState> => stateFor('never');

/** The landing page for a viewer's roles. */
export function homeFor(viewer: Viewer): string {
  if (viewer.permissions.ehr_read?.length) return '/patients';
  if (viewer.permissions.audit?.length) return '/admin/audit';
  if (viewer.permissions.admin?.length) return '/admin/users';
  return '/account';
}
