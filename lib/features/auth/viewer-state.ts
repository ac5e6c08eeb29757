import 'server-only';
import type { Queryable } from '@/db/client';
import type { Viewer } from '@/lib/domain/access/viewer';
import { now as clockNow } from '@/lib/platform/clock';
import { mfaRequired } from '@/lib/features/credentials/config';
import { checkSession, isSessionId, sessionTiming, type SessionInvalidReason, type SessionTiming, type Touch } from '@/lib/features/credentials/sessions';
import { loadRolesAndPermissions } from '@/lib/pipeline/actor';

export type ViewerState =
  | {
      viewer: Viewer;
      session: SessionTiming;
      /** MFA is required for every account and this one has none yet: only enrolment is open. */
      mfaEnrolmentPending: boolean;
    }
  | { viewer: null; reason: SessionInvalidReason | 'signed_out' };

export interface ResolveOptions {
  at?: Date;
  touch?: Touch;
  requireMfa?: boolean;
}

/** Whether a signed-in user must enrol a second factor before anything else. */
export function mfaEnrolmentPending(user: { totpEnabledAt: Date | null }, required: boolean): boolean {
  return required && !user.totpEnabledAt;
}

/**
 * The request's viewer, from the session id its cookie carried: the database row decides
 * (lib/features/credentials/sessions checkSession), never the cookie. Next-free, so tests drive it directly.
 */
export async function resolveViewerState(
  q: Queryable,
  sessionId: string | null,
  client: { ip: string | null; userAgent: string | null },
  options: ResolveOptions = {},
): Promise<ViewerState> {
  if (!isSessionId(sessionId)) return { viewer: null, reason: 'signed_out' };
  const at = options.at ?? clockNow();
  const check = await checkSession(q, sessionId, at, { touch: options.touch, client });
  if (!check.valid) return { viewer: null, reason: check.reason };
  const { roles, permissions } = await loadRolesAndPermissions(q, check.user.id);
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
    session: sessionTiming(check.session, at),
    mfaEnrolmentPending: mfaEnrolmentPending(check.user, options.requireMfa ?? mfaRequired()),
  };
}

/** Where a request goes: on with its viewer, or to a page that explains. */
export type Gate = { allow: true; viewer: Viewer } | { allow: false; redirectTo: string };

/** The path of the MFA enrolment page, the one page a pending account may open. */
export const MFA_ENROLMENT_PATH = '/account/mfa';

/** The word the sign-in page explains (`/login?reason=…`); an idle session "timed out". */
export function loginReasonFor(reason: SessionInvalidReason | 'signed_out'): Exclude<SessionInvalidReason, 'idle'> | 'timeout' | 'signed_out' {
  return reason === 'idle' ? 'timeout' : reason;
}

export function loginPathFor(reason: SessionInvalidReason | 'signed_out'): string {
  return reason === 'signed_out' ? '/login' : `/login?reason=${loginReasonFor(reason)}`;
}

/** A same-site path to return to (never another origin, never an API route); else home. */
export function safeReturnPath(raw: string | null): string {
  if (!raw || !raw.startsWith('/') || raw.startsWith('//') || raw.startsWith('/\\') || raw.startsWith('/api/')) return '/';
  return /^[\x21-\x7e]*$/.test(raw) ? raw : '/';
}

/**
 * The decision behind requireViewer. A pending account (required MFA not yet set up) passes only
 * where the caller opts in — the enrolment page, sign-out and the keep-alive — and is sent to
 * enrolment from everywhere else.
 */
export function gateViewer(state: ViewerState, { allowPendingMfa = false }: { allowPendingMfa?: boolean } = {}): Gate {
  if (!state.viewer) return { allow: false, redirectTo: loginPathFor(state.reason) };
  if (state.mfaEnrolmentPending && !allowPendingMfa) return { allow: false, redirectTo: MFA_ENROLMENT_PATH };
  return { allow: true, viewer: state.viewer };
}
