import { describe, expect, it } from 'vitest';
import { parseEnv } from '@/lib/platform/env';
import { clientAddress, PEER_HEADER } from '@/lib/platform/net/client-address';

const headers = (values: Record<string, string>) => new Headers(values);

describe('client address', () => {
  it('is the socket peer when no proxy is trusted, whatever X-Forwarded-For claims', () => {
    const forged = headers({ [PEER_HEADER]: '203.0.113.9', 'x-forwarded-for': '198.51.100.77' });
    expect(clientAddress(forged, [])).toBe('203.0.113.9');
    expect(clientAddress(headers({ [PEER_HEADER]: '203.0.113.9' }), [])).toBe('203.0.113.9');
  });

  it('reads X-Forwarded-For right to left through trusted proxies; the first untrusted hop is the client', () => {
    const trusted = ['10.0.0.0/8'];
    // The client forged the leftmost entry; the proxy appended what it saw.
    const through = headers({ [PEER_HEADER]: '10.0.0.5', 'x-forwarded-for': '198.51.100.77, 192.0.2.44' });
    expect(clientAddress(through, trusted)).toBe('192.0.2.44');
    // Two trusted hops in a row, then the client.
    expect(clientAddress(headers({ [PEER_HEADER]: '10.0.0.5', 'x-forwarded-for': '192.0.2.44, 10.1.2.3' }), trusted)).toBe('192.0.2.44');
    // A proxy that was not configured is the client, even if it forwards for someone.
    expect(clientAddress(headers({ [PEER_HEADER]: '172.16.0.9', 'x-forwarded-for': '192.0.2.44' }), trusted)).toBe('172.16.0.9');
  });

  it('never returns junk a proxy passed on, and IPv4 over IPv6 reads as IPv4', () => {
    expect(clientAddress(headers({ [PEER_HEADER]: '10.0.0.5', 'x-forwarded-for': 'not-an-address' }), ['10.0.0.0/8'])).toBe('10.0.0.5');
    expect(clientAddress(headers({ [PEER_HEADER]: '::ffff:127.0.0.1' }), [])).toBe('127.0.0.1');
    expect(clientAddress(headers({ [PEER_HEADER]: '::1', 'x-forwarded-for': '192.0.2.1' }), ['loopback'])).toBe('192.0.2.1');
  });

  it('is unknown without the peer header, rather than believing the client', () => {
    expect(clientAddress(headers({ 'x-forwarded-for': '198.51.100.77' }), [])).toBeNull();
  });

  it('takes VIGIL_TRUSTED_PROXIES as a CIDR list and refuses a malformed one by name', () => {
    expect(parseEnv({}).VIGIL_TRUSTED_PROXIES).toEqual([]);
    expect(parseEnv({ VIGIL_TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.1 ,::1' }).VIGIL_TRUSTED_PROXIES).toEqual(['10.0.0.0/8', '192.168.1.1', '::1']);
    expect(() => parseEnv({ VIGIL_TRUSTED_PROXIES: '10.0.0.0/99' })).toThrow(/VIGIL_TRUSTED_PROXIES must be a comma-separated list/);
  });
});
