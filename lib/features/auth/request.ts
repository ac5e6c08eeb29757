import 'server-only';
import { headers } from 'next/headers';

/** The client's address and browser as the server saw them (for sessions and the audit trail). */
export async function clientInfo(): Promise<{ ip: string | null; userAgent: string | null }> {
  const h = await headers();
  // Behind a load balancer, configure it to overwrite (not append to) X-Forwarded-For.
  const forwarded = h.get('x-forwarded-for')?.split(',')[0]?.trim();
  return { ip: forwarded || h.get('x-real-ip') || null, userAgent: h.get('user-agent') };
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
