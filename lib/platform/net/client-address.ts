import 'server-only';
import { isIP } from 'node:net';
import proxyaddr from 'proxy-addr';
import { env } from '@/lib/platform/env';

/**
 * The header Vigil's own server (scripts/serve.mjs) sets on every request to the socket's peer
 * address, replacing any the client sent. Next.js keeps a client's X-Forwarded-For as it came
 * and drops the peer, so without this no one could tell a proxy's hop from a forged one.
 */
export const PEER_HEADER = 'x-vigil-peer';

interface HeaderSource {
  get(name: string): string | null;
}

/**
 * The client's address, decided in one place for lockout, throttling, sessions and the audit
 * trail: X-Forwarded-For is read right to left from the socket's peer, each hop believed only
 * while the address that handed it over is a trusted proxy (VIGIL_TRUSTED_PROXIES), and the first
 * untrusted one is the client. With no trusted proxies the peer itself is the client, whatever
 * the headers claim. Null when the peer is unknown (a server other than scripts/serve.mjs).
 */
export function clientAddress(headers: HeaderSource, trustedProxies: readonly string[] = env().VIGIL_TRUSTED_PROXIES): string | null {
  const peer = headers.get(PEER_HEADER)?.trim();
  if (!peer) return null;
  const request = {
    headers: { 'x-forwarded-for': headers.get('x-forwarded-for') ?? undefined },
    connection: { remoteAddress: peer },
    socket: { remoteAddress: peer },
  };
  // Peer first, then each hop a trusted proxy vouched for; the last is the client.
  const chain = proxyaddr.all(request as unknown as Parameters<typeof proxyaddr.all>[0], proxyaddr.compile([...trustedProxies]));
  // A hop that is not an address at all (a proxy passing junk on) is no client: the last real
  // address before it, which a trusted proxy saw itself, stands in for it.
  const real = chain.map((hop) => normalise(hop.trim())).filter((hop) => isIP(hop) !== 0);
  return real.at(-1) ?? null;
}

/** IPv4 clients reached over an IPv6 socket read as plain IPv4, as PostgreSQL's inet would. */
function normalise(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice('::ffff:'.length) : address;
}
