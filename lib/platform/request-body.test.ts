import { NextRequest } from 'next/server';
import { describe, expect, it } from 'vitest';
import { readCappedBody, readCappedText, withBodyCap } from '@/lib/platform/request-body';

/** A chunked body (no Content-Length) of `chunks` pieces of `size` bytes that counts what was pulled. */
function chunkedRequest(chunks: number, size: number, headers: Record<string, string> = {}) {
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled === chunks) return controller.close();
      pulled += 1;
      controller.enqueue(new Uint8Array(size).fill(0x61));
    },
  });
  const request = new Request('http://localhost/api/x', { method: 'POST', body, headers, duplex: 'half' } as RequestInit);
  return { request, pulled: () => pulled };
}

describe('request bodies read with a hard cap', () => {
  it('stops reading a chunked body as soon as it passes the cap', async () => {
    const { request, pulled } = chunkedRequest(1_000, 1_024);
    expect(await readCappedBody(request, 4 * 1_024)).toBeNull();
    expect(pulled()).toBeLessThanOrEqual(6); // the cap, one chunk past it, and the stream's read-ahead
  });

  it('refuses a declared Content-Length above the cap without reading any of it', async () => {
    const { request, pulled } = chunkedRequest(10, 1_024, { 'content-length': String(10 * 1_024) });
    expect(await readCappedBody(request, 1_024)).toBeNull();
    expect(pulled()).toBeLessThanOrEqual(1);
  });

  it('returns a body within the cap whole', async () => {
    const { request } = chunkedRequest(3, 100);
    expect(await readCappedText(request, 300)).toBe('a'.repeat(300));
    expect(await readCappedText(new Request('http://localhost/', { method: 'POST' }), 10)).toBe('');
  });

  it('answers 413 before a wrapped handler runs, and hands it exactly the bytes read', async () => {
    const seen: string[] = [];
    const handler = withBodyCap(async (request) => {
      seen.push(await request.text());
      return new Response('ok');
    }, 1_024);
    const big = chunkedRequest(100, 1_024);
    expect((await handler(new NextRequest(big.request))).status).toBe(413);
    expect(seen).toEqual([]);
    const form = new NextRequest('http://localhost/api/auth/callback/credentials', { method: 'POST', body: 'email=a%40b.test&password=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect((await handler(form)).status).toBe(200);
    expect(seen).toEqual(['email=a%40b.test&password=x']);
  });
});
