'use client';

import { usePathname } from 'next/navigation';
import { useCallback, useEffect, useRef, useState } from 'react';
import { clearScreen, leaveUrl, openSessionChannel, type LeaveReason, type SessionMessage } from './session-channel';

/** The session's remaining time as the server computed it when it rendered the page. */
export interface IdleTimeoutWarningProps {
  idleRemainingMs: number;
  absoluteRemainingMs: number;
  idleTimeoutMs: number;
  warningBeforeMs: number;
}

interface Deadlines {
  idle: number;
  absolute: number;
}

type KeepAliveReply =
  | ({ signedIn: true } & Omit<IdleTimeoutWarningProps, 'idleTimeoutMs' | 'warningBeforeMs'>)
  | { signedIn: false; reason: LeaveReason };

/** Keyboard and pointer use report activity to the server at most this often (trailing). */
const ACTIVITY_SYNC_MS = 30_000;
const TICK_MS = 1_000;

const formatCountdown = (ms: number) => {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
};

/**
 * The browser half of the idle timeout. The server decides (sessions.last_seen_at); this only
 * mirrors its deadline so it can warn two minutes ahead, offer "Stay signed in" (a real round trip
 * that counts as activity), and at zero take the chart off the screen at once and hand over to
 * the server. Tabs share deadlines over a BroadcastChannel, so activity in one keeps all alive.
 */
export function IdleTimeoutWarning({ idleRemainingMs, absoluteRemainingMs, idleTimeoutMs, warningBeforeMs }: IdleTimeoutWarningProps) {
  const deadlines = useRef<Deadlines>({ idle: 0, absolute: 0 });
  const lastSync = useRef(0);
  const trailingSync = useRef<ReturnType<typeof setTimeout> | null>(null);
  const channel = useRef<BroadcastChannel | null>(null);
  const leaving = useRef(false);
  const [now, setNow] = useState<number | null>(null);
  const [unreachable, setUnreachable] = useState(false);
  const [busy, setBusy] = useState(false);
  const pathname = usePathname();

  const leave = useCallback((reason: LeaveReason, tellOtherTabs: boolean) => {
    if (leaving.current) return;
    leaving.current = true;
    if (trailingSync.current) clearTimeout(trailingSync.current);
    clearScreen(reason);
    if (tellOtherTabs) channel.current?.postMessage({ type: 'signed-out', reason } satisfies SessionMessage);
    window.location.replace(leaveUrl());
  }, []);

  const adopt = useCallback((next: Deadlines, share: boolean) => {
    deadlines.current = {
      idle: Math.max(deadlines.current.idle, next.idle),
      absolute: next.absolute,
    };
    setNow(Date.now());
    if (share) channel.current?.postMessage({ type: 'activity', idleDeadline: next.idle, absoluteDeadline: next.absolute } satisfies SessionMessage);
  }, []);

  const keepAlive = useCallback(async () => {
    lastSync.current = Date.now();
    try {
      const response = await fetch('/api/session/keep-alive', { method: 'POST', cache: 'no-store', credentials: 'same-origin' });
      const reply = (await response.json()) as KeepAliveReply;
      if (!reply.signedIn) return leave(reply.reason, true);
      const at = Date.now();
      setUnreachable(false);
      adopt({ idle: at + reply.idleRemainingMs, absolute: at + reply.absoluteRemainingMs }, true);
    } catch {
      setUnreachable(true);
    }
  }, [adopt, leave]);

  // The countdown, other tabs, and the back-forward cache.
  useEffect(() => {
    channel.current = openSessionChannel((message) => {
      if (message.type === 'signed-out') leave(message.reason, false);
      else adopt({ idle: message.idleDeadline, absolute: message.absoluteDeadline }, false);
    });
    const tick = () => {
      if (leaving.current) return;
      const at = Date.now();
      const { idle, absolute } = deadlines.current;
      if (at >= Math.min(idle, absolute)) leave(absolute <= idle ? 'expired' : 'timeout', true);
      else setNow(at);
    };
    const timer = setInterval(tick, TICK_MS);
    // Background tabs run timers late; check the moment the tab is looked at again.
    const onVisible = () => document.visibilityState === 'visible' && tick();
    // A page kept in the back-forward cache must not show a chart when restored: clear it on the
    // way in and let the server decide again on the way out.
    const onPageHide = (event: PageTransitionEvent) => event.persisted && clearScreen('signed_out');
    const onPageShow = (event: PageTransitionEvent) => event.persisted && window.location.reload();
    document.addEventListener('visibilitychange', onVisible);
    window.addEventListener('pagehide', onPageHide);
    window.addEventListener('pageshow', onPageShow);
    return () => {
      clearInterval(timer);
      document.removeEventListener('visibilitychange', onVisible);
      window.removeEventListener('pagehide', onPageHide);
      window.removeEventListener('pageshow', onPageShow);
      channel.current?.close();
      channel.current = null;
    };
  }, [adopt, leave]);

  // The server's figures from this render (first load, refresh, a server action's re-render).
  // Declared after the channel effect, so the first one is shared with the other tabs too.
  useEffect(() => {
    const at = Date.now();
    lastSync.current = at;
    adopt({ idle: at + idleRemainingMs, absolute: at + absoluteRemainingMs }, true);
  }, [idleRemainingMs, absoluteRemainingMs, adopt]);

  const remaining = now === null ? Infinity : Math.min(deadlines.current.idle, deadlines.current.absolute) - now;
  const warning = remaining <= warningBeforeMs;
  const warningRef = useRef(warning);
  useEffect(() => {
    warningRef.current = warning;
  }, [warning]);

  // Keyboard and pointer use (and moving between pages) is activity; once the warning shows,
  // only the button counts, so a stray touch cannot dismiss it unseen.
  const reportActivity = useCallback(() => {
    if (warningRef.current || leaving.current || trailingSync.current) return;
    const wait = lastSync.current + ACTIVITY_SYNC_MS - Date.now();
    if (wait <= 0) void keepAlive();
    else
      trailingSync.current = setTimeout(() => {
        trailingSync.current = null;
        void keepAlive();
      }, wait);
  }, [keepAlive]);

  useEffect(() => {
    const options = { capture: true, passive: true } as const;
    window.addEventListener('keydown', reportActivity, options);
    window.addEventListener('pointerdown', reportActivity, options);
    return () => {
      window.removeEventListener('keydown', reportActivity, options);
      window.removeEventListener('pointerdown', reportActivity, options);
      if (trailingSync.current) clearTimeout(trailingSync.current);
      trailingSync.current = null;
    };
  }, [reportActivity]);

  const firstPath = useRef(pathname);
  useEffect(() => {
    if (pathname !== firstPath.current) reportActivity();
  }, [pathname, reportActivity]);

  if (!warning) return null;
  const idleEndsFirst = deadlines.current.idle <= deadlines.current.absolute;
  const minutes = Math.round(idleTimeoutMs / 60_000);
  return (
    <div className="fixed inset-0 z-50 flex items-center justify-center bg-slate-900/40 px-4">
      <div role="alertdialog" aria-modal="true" aria-labelledby="idle-warning-title" aria-describedby="idle-warning-text"
        className="w-full max-w-md rounded-xl border border-slate-200 bg-white p-6 shadow-lg">
        <h2 id="idle-warning-title" className="text-lg font-semibold text-calm">
          {idleEndsFirst ? 'Are you still there?' : 'Your session is ending'}
        </h2>
        <p id="idle-warning-text" className="mt-2 text-sm text-slate-700">
          {idleEndsFirst
            ? `To protect patient information, Vigil signs out after ${minutes} minutes without activity. You will be signed out in `
            : 'Sessions last at most 12 hours. You will need to sign in again in '}
          <span role="timer" data-testid="idle-countdown" className="font-mono font-semibold">{formatCountdown(remaining)}</span>.
        </p>
        <p className="mt-2 text-sm text-slate-700" data-testid="idle-draft-kept">
          A note you are writing is kept as a draft: it is offered back when you sign in again and open the chart.
        </p>
        {unreachable && <p className="mt-2 text-sm text-red-800">Vigil could not be reached. Check the connection and try again.</p>}
        {idleEndsFirst && (
          <button type="button" autoFocus disabled={busy}
            onClick={async () => {
              setBusy(true);
              await keepAlive();
              setBusy(false);
            }}
            className="mt-4 w-full rounded-md bg-calm px-4 py-2 font-medium text-white hover:opacity-90 disabled:opacity-60">
            Stay signed in
          </button>
        )}
      </div>
    </div>
  );
}
