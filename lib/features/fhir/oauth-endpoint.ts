import 'server-only';
import inject from 'light-my-request';
import { parseScopes, scopeString } from '@/lib/domain/access/smart-scopes';
import { requestScope, type OAuthCaller } from '@/lib/features/fhir/oauth-request';
import { providerFor } from '@/lib/features/fhir/oidc-provider';
import { noLookups } from '@/lib/features/fhir/oidc-store';

/**
 * `/oauth/*` (authorize, its resume, token, revoke, jwks) answered by oidc-provider, which is a
 * Node http handler: the Web Request a route handler gets is injected into it as a Node request
 * (Fastify's light-my-request builds a real IncomingMessage/ServerResponse pair and collects the
 * answer), and its answer becomes the Web Response. Framework-free, so tests drive it directly.
 *
 * Before the provider sees a request, Vigil puts its `scope` in Vigil's words (SMART v1 `.read`
 * as v2 `.rs`, one spelling each; an EHR launch with patient scopes asks for its launch patient),
 * and marks every authorization `prompt=consent`: Vigil always asks on its consent page, which is
 * also what lets `offline_access` through (OpenID Connect grants it only with consent).
 */
export interface OAuthRequest {
  method: string;
  url: URL;
  headers: Headers;
  body: string;
}

const BODY_LIMIT = 16_384;

function normalised(params: URLSearchParams, authorization: boolean): URLSearchParams {
  const out = new URLSearchParams(params);
  const scope = params.get('scope');
  if (scope !== null) {
    const grant = parseScopes(scope);
    if (authorization && params.get('launch') && grant.patient.length > 0) grant.launchPatient = true;
    out.set('scope', scopeString(grant));
  }
  if (authorization) out.set('prompt', 'consent');
  return out;
}

export async function handleOAuthRequest(request: OAuthRequest, caller: OAuthCaller, fhirBase: string): Promise<Response> {
  const provider = providerFor(fhirBase);
  const base = new URL(fhirBase);
  const path = request.url.pathname;
  const authorization = path === '/oauth/authorize';
  const query = authorization ? normalised(request.url.searchParams, true) : request.url.searchParams;
  const form = request.headers.get('content-type')?.includes('application/x-www-form-urlencoded');
  const body = form && path === '/oauth/token' ? normalised(new URLSearchParams(request.body.slice(0, BODY_LIMIT)), false).toString() : request.body.slice(0, BODY_LIMIT);

  const headers: Record<string, string> = {};
  for (const name of ['accept', 'content-type', 'cookie', 'origin', 'user-agent', 'authorization', 'access-control-request-method', 'access-control-request-headers']) {
    const value = request.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  // The provider's own idea of where it is: the FHIR base's origin, never a client's header.
  headers.host = base.host;
  headers['x-forwarded-proto'] = base.protocol.replace(':', '');

  const scope = { caller, fhirBase, lookups: noLookups(), refusal: null, patient: null };
  // light-my-request starts the request when awaited: inside the scope, so the hooks see it.
  const answer = await requestScope.run(scope, async () =>
    await
    inject(provider.callback(), {
      method: request.method as 'GET',
      url: `${path}${query.size ? `?${query.toString()}` : ''}`,
      headers,
      payload: ['GET', 'HEAD', 'OPTIONS'].includes(request.method) ? undefined : body,
      remoteAddress: caller.ip ?? '127.0.0.1',
    }),
  );
  const out = new Headers();
  for (const [name, value] of Object.entries(answer.headers)) {
    if (value === undefined || name === 'content-length' || name === 'connection' || name === 'date' || name === 'transfer-encoding') continue;
    for (const one of Array.isArray(value) ? value : [String(value)]) out.append(name, one);
  }
  return new Response(answer.statusCode === 204 || answer.statusCode === 304 ? null : new Uint8Array(answer.rawPayload), { status: answer.statusCode, headers: out });
}

/**
 * After the consent page's "Allow": the provider's resume, asked by the server for the browser
 * (with the browser's own provider cookies), so the browser goes straight on to the app with its
 * code (or the app's error). The cookies the provider sets on the way are not kept: every
 * authorization is asked again on the consent page, so its session cookie would never be used.
 */
export async function resumeAuthorization(returnTo: string, cookie: string, caller: OAuthCaller, fhirBase: string): Promise<string | null> {
  const url = new URL(returnTo);
  if (url.origin !== new URL(fhirBase).origin || !/^\/oauth\/authorize\/[A-Za-z0-9_-]+$/.test(url.pathname)) return null;
  const answer = await handleOAuthRequest({ method: 'GET', url, headers: new Headers({ cookie, accept: 'text/html' }), body: '' }, caller, fhirBase);
  return answer.status >= 300 && answer.status < 400 ? answer.headers.get('location') : null;
}
