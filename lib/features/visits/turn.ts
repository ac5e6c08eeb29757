import 'server-only';
import { createHmac } from 'node:crypto';
import { env } from '@/lib/platform/env';

/** What an RTCPeerConnection is configured with (the browser's RTCIceServer). */
export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/**
 * TURN credentials in the TURN REST API scheme coturn checks with `use-auth-secret`: the user
 * name is `<expiry unix seconds>:<id>` and the password the base64 HMAC-SHA1 of that name under
 * the shared secret. The portal never stores them; coturn refuses them after the expiry, so a
 * credential copied out of a browser is worth one visit's window at most. Without TURN
 * configured, peers use host and server-reflexive candidates, which is enough on one LAN.
 */
export function turnCredential(secret: string, id: string, at: Date, ttlSeconds: number): { username: string; credential: string } {
  const username = `${Math.floor(at.getTime() / 1000) + ttlSeconds}:${id}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

/** The ICE servers for one participant of one visit; `id` names them in coturn's log, without PHI. */
export function iceServersFor(id: string, at: Date): IceServer[] {
  const { VIGIL_TURN_URLS, VIGIL_TURN_SECRET, VIGIL_TURN_TTL_SECONDS } = env();
  if (!VIGIL_TURN_URLS || !VIGIL_TURN_SECRET) return [];
  return [{ urls: VIGIL_TURN_URLS.split(','), ...turnCredential(VIGIL_TURN_SECRET, id, at, VIGIL_TURN_TTL_SECONDS) }];
}
