import 'server-only';
import { headers } from 'next/headers';
import { clientAddress } from '@/lib/platform/net/client-address';

/**
 * The client's address and browser as the server saw them (for lockout, throttling, sessions
 * and the audit trail); the address comes only from trusted proxies (lib/platform/net).
 */
export async function clientInfo(): Promise<{ ip: string | null; userAgent: string | null }> {
  return requestClient(await headers());
}

/** The same, from a route handler's own request headers. */
export function requestClient(h: { get(name: string): string | null }): { ip: string | null; userAgent: string | null } {
  return { ip: clientAddress(h), userAgent: h.get('user-agent') };
}

/**
 * Defence in depth for JSON endpoints that a page calls with fetch (SameSite=Lax already keeps
 * the session cookie off cross-site POSTs). Prefers Fetch Metadata, which every current browser
 * sends; Origin is the fallback for older ones.
 */
export function isSameOriginFetch(request: Request): boolean {
  const site = request.headers.get('sec-fetch-site');
  if (site) return site === 'same-origin';
  const origin = request.headers.get('origin');
  if (!origin || origin === 'null') return true; // older browsers and non-browser clients
  const host = request.headers.get('x-forwarded-host') ?? request.headers.get('host');
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/**
 * A request another site started: Fetch Metadata says cross-site or same-site (a sibling
 * subdomain), or, from a browser that sends none, an Origin or Referer of another host. A URL
 * typed or bookmarked (`none`) and the portal's own pages (`same-origin`) pass.
 */
export function startedElsewhere(request: Request): boolean {
  const site = request.headers.get('sec-fetch-site');
  if (site) return site !== 'same-origin' && site !== 'none';
  const host = request.headers.get('x-forwarded-host') ?? request.headers.get('host');
  const from = request.headers.get('origin') ?? request.headers.get('referer');
  if (!from) return false;
  try {
    return new URL(from).host !== host;
  } catch {
    return true; // an opaque ("null") or malformed origin
  }
}
