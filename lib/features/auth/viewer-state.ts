import 'server-only';
import type { Queryable } from '@/db/client';
import type { Viewer } from '@/lib/domain/access/viewer';
import { now as clockNow } from '@/lib/platform/clock';
import { isProductionMode } from '@/lib/platform/mode';
import { mfaRequiredFor } from '@/lib/features/credentials/config';
import { checkSession, isSessionId, sessionTiming, type SessionInvalidReason, type SessionTiming, type Touch } from '@/lib/features/credentials/sessions';
import { actorOf } from '@/lib/pipeline/actor';

export type ViewerState =
  | {
      viewer: Viewer;
      session: SessionTiming;
      /** MFA is required of this account (lib/features/credentials/config.ts) and it has none yet: only enrolment is open. */
      mfaEnrolmentPending: boolean;
      /** Production mode and a password the user never chose (a one-time one): only the change is open. */
      passwordChangePending: boolean;
    }
  | { viewer: null; reason: SessionInvalidReason | 'signed_out' };

export interface ResolveOptions {
  at?: Date;
  touch?: Touch;
  requireMfa?: boolean;
}

/**
 * Whether a signed-in user must enrol a second factor before anything else. A session whose
 * identity provider asserted MFA has one already (the IdP's factor, not Vigil's).
 */
export function mfaEnrolmentPending(user: { totpEnabledAt: Date | null }, required: boolean, signInMethod = 'password'): boolean {
  return required && !user.totpEnabledAt && signInMethod !== 'sso_mfa';
}

/**
 * A password nobody chose for themselves, i.e. never set by its owner (npm run setup's one-time
 * password). Only in production mode: the demo's seeded accounts never changed theirs either.
 */
export function passwordChangePending(user: { passwordChangedAt: Date | null }): boolean {
  return isProductionMode() && !user.passwordChangedAt;
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
  const { roles, permissions } = await actorOf(q, check.roles);
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
    mfaEnrolmentPending: mfaEnrolmentPending(check.user, options.requireMfa ?? mfaRequiredFor(permissions), check.session.signInMethod),
    passwordChangePending: passwordChangePending(check.user),
  };
}

/** Where a request goes: on with its viewer, or to a page that explains. */
export type Gate = { allow: true; viewer: Viewer } | { allow: false; redirectTo: string };

/** The path of the MFA enrolment page, the one page a pending account may open. */
export const MFA_ENROLMENT_PATH = '/account/mfa';
/** Where a one-time password is replaced, before anything else (MFA enrolment included). */
export const PASSWORD_CHANGE_PATH = '/account/password';

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
export interface GateOptions {
  allowPendingMfa?: boolean;
  /** Only the password-change page and its action. */
  allowPendingPassword?: boolean;
}

export function gateViewer(state: ViewerState, { allowPendingMfa = false, allowPendingPassword = false }: GateOptions = {}): Gate {
  if (!state.viewer) return { allow: false, redirectTo: loginPathFor(state.reason) };
  // Sign-out and the keep-alive (allowPendingMfa) stay open; every page goes to the change first.
  if (state.passwordChangePending && !allowPendingPassword && !allowPendingMfa) return { allow: false, redirectTo: PASSWORD_CHANGE_PATH };
  if (state.mfaEnrolmentPending && !allowPendingMfa && !allowPendingPassword) return { allow: false, redirectTo: MFA_ENROLMENT_PATH };
  return { allow: true, viewer: state.viewer };
}
