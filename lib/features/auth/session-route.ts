import 'server-only';

/**
 * `GET /api/auth/session` answers scripts in the page, so it must never carry our session id: the
 * key to the session row lives in an HttpOnly cookie for exactly that reason. The server reads it
 * through auth(), which the session callback feeds; this takes it back out of that one route's
 * JSON. Every other Auth.js answer passes unchanged.
 */
export function withoutSessionId<R extends Request>(handler: (request: R) => Promise<Response>): (request: R) => Promise<Response> {
  return async (request) => {
    const response = await handler(request);
    if (!new URL(request.url).pathname.endsWith('/session')) return response;
    const body = (await response.json().catch(() => null)) as Record<string, unknown> | null;
    const headers = new Headers(response.headers);
    headers.delete('content-length');
    const { sid: _hidden, ...visible } = body ?? {};
    return new Response(JSON.stringify(body ? visible : null), { status: response.status, headers });
  };
}
