import 'server-only';
import { NextRequest } from 'next/server';

/**
 * A request body read with a hard cap: a declared Content-Length above it is refused unread,
 * and a body without one (chunked) is read only until it passes the cap, then the stream is
 * cancelled. Returns null when the body is too large. Endpoints read nothing before they know
 * who is asking, and then at most this much.
 */
export async function readCappedBody(request: Request, maxBytes: number): Promise<Uint8Array | null> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await request.body?.cancel().catch(() => undefined);
    return null;
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/** The same, as text (UTF-8); null when too large. */
export async function readCappedText(request: Request, maxBytes: number): Promise<string | null> {
  const body = await readCappedBody(request, maxBytes);
  return body ? new TextDecoder().decode(body) : null;
}

/**
 * Wraps a handler that reads its own body (Auth.js): the body is read here with the cap and the
 * handler gets a copy holding exactly those bytes; too large is 413 before the handler runs.
 */
export function withBodyCap(handler: (request: NextRequest) => Promise<Response>, maxBytes: number): (request: NextRequest) => Promise<Response> {
  return async (request) => {
    const body = await readCappedBody(request, maxBytes);
    if (!body) return new Response('Request body too large.', { status: 413, headers: { 'Cache-Control': 'no-store' } });
    const headers = new Headers(request.headers);
    headers.delete('transfer-encoding');
    headers.set('content-length', String(body.byteLength));
    return handler(new NextRequest(request.url, { method: request.method, headers, body: body as BodyInit }));
  };
}
