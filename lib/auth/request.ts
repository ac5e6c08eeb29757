import 'server-only';
import { headers } from 'next/headers';

/** The client's address and browser as the server saw them (for sessions and the audit trail). */
export async function clientInfo(): Promise<{ ip: string | null; userAgent: string | null }> {
  const h = await headers();
  // Behind a load balancer, configure it to overwrite (not append to) X-Forwarded-For.
  const forwarded = h.get('x-forwarded-for')?.split(',')[0]?.trim();
  return { ip: forwarded || h.get('x-real-ip') || null, userAgent: h.get('user-agent') };
}
