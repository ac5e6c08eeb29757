/**
 * Browser-side pieces shared by the idle warning and the sign-in page: the channel through which
 * tabs of one browser share their session's news, and the routine that takes the screen away.
 * Nothing here ever carries PHI: only deadlines and a reason word.
 */

export const SESSION_CHANNEL = 'vigil-session';

/** Why a tab is leaving; the sign-in page words its notice from it. */
export type LeaveReason = 'timeout' | 'expired' | 'revoked' | 'disabled' | 'signed_out';

export type SessionMessage =
  /** The server confirmed activity: its idle and absolute deadlines, in this browser's clock (ms). */
  | { type: 'activity'; idleDeadline: number; absoluteDeadline: number }
  /** The session is over: every tab clears its screen. */
  | { type: 'signed-out'; reason: LeaveReason };

export function openSessionChannel(onMessage?: (message: SessionMessage) => void): BroadcastChannel | null {
  if (typeof BroadcastChannel === 'undefined') return null;
  const channel = new BroadcastChannel(SESSION_CHANNEL);
  if (onMessage) channel.onmessage = (event: MessageEvent<SessionMessage>) => onMessage(event.data);
  return channel;
}

const NOTICES: Record<LeaveReason, string> = {
  timeout: 'Signed out after inactivity.',
  expired: 'Your session reached its time limit.',
  revoked: 'Your session was ended.',
  disabled: 'Your session was ended.',
  signed_out: 'You have signed out.',
};

/**
 * Removes everything on the page at once, PHI included, leaving one neutral sentence. The DOM
 * nodes are detached (not hidden), so nothing of a chart remains to read, print or inspect.
 */
export function clearScreen(reason: LeaveReason): void {
  const notice = document.createElement('p');
  notice.setAttribute('role', 'status');
  notice.className = 'p-8 text-center text-slate-600';
  notice.textContent = NOTICES[reason];
  document.body.replaceChildren(notice);
  document.title = 'Vigil';
}

/** Where a leaving tab goes: the server checks the session (without counting it as activity) and decides. */
export function leaveUrl(): string {
  const back = `${window.location.pathname}${window.location.search}`;
  return `/api/session/timeout?next=${encodeURIComponent(back)}`;
}
