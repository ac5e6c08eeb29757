'use client';

import { useEffect } from 'react';
import { openSessionChannel, type LeaveReason } from '@/components/session/session-channel';

/**
 * The sign-in form only renders when this browser's session is over, so it tells the browser's
 * other tabs to take their charts off the screen too (no PHI in the message).
 */
export function SignedOutBroadcast({ reason }: { reason: LeaveReason }) {
  useEffect(() => {
    const channel = openSessionChannel();
    channel?.postMessage({ type: 'signed-out', reason });
    channel?.close();
  }, [reason]);
  return null;
}
