import 'server-only';
import type { CapabilityStatement } from '@medplum/fhirtypes';
import { fhirResourceTypes, supportedScopes } from '@/lib/domain/access/smart-scopes';
import { env } from '@/lib/platform/env';
import { AUDIT_EVENT } from '@/lib/domain/access/smart-scopes';
import { auditEventParameters } from '@/lib/features/fhir/audit-events';
import { PRACTITIONER } from '@/lib/features/fhir/practitioner';
import { allowedParameters } from '@/lib/features/fhir/search';

/** The assertion algorithms backend clients may sign with (SMART Backend Services: RS384, ES384). */
export const BACKEND_ALGORITHMS = ['RS384', 'ES384'];

/**
 * What the API says about itself, kept true by construction: the resource types, interactions and
 * search parameters come from the same lists the server enforces, and the SMART configuration
 * names only the flows it implements (authorization code with PKCE S256 for public clients,
 * standalone and EHR launch, ID tokens naming the user's Practitioner, refresh tokens, client
 * credentials with private_key_jwt).
 */
export const FHIR_PATH = '/fhir/R4';

/**
 * The API's base URL: VIGIL_PUBLIC_URL when set (set it in production), else the origin the
 * client addressed (its Host header; the server's own URL names the address it bound to). Tokens
 * carry it as their audience, so one issued for another name is refused here.
 */
export function fhirBaseFor(request: { url: string; headers: { get(name: string): string | null } }): string {
  const configured = env().VIGIL_PUBLIC_URL?.replace(/\/$/, '');
  const url = new URL(request.url);
  const host = request.headers.get('host');
  const origin = configured ?? (host && /^[A-Za-z0-9.:[\]-]{1,255}$/.test(host) ? `${url.protocol}//${host}` : url.origin);
  return `${origin}${FHIR_PATH}`;
}

const searchTypes: Record<string, 'token' | 'date' | 'string' | 'reference' | 'number'> = {
  _id: 'token',
  _count: 'number',
  _offset: 'number',
  identifier: 'token',
  birthdate: 'date',
  family: 'string',
  patient: 'reference',
  category: 'token',
  code: 'token',
  type: 'token',
  date: 'date',
};

export function capabilityStatement(base: string, at: Date): CapabilityStatement {
  const origin = base.slice(0, -FHIR_PATH.length);
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: at.toISOString(),
    kind: 'instance',
    software: { name: 'Vigil' },
    implementation: { description: 'Vigil FHIR R4 API: read and search under the portal’s role lenses, care teams and break-glass, and the audit trail for those who review it', url: base },
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [
      {
        mode: 'server',
        security: {
          cors: false,
          service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }] }],
          extension: [
            {
              url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
              extension: [
                { url: 'authorize', valueUri: `${origin}/oauth/authorize` },
                { url: 'token', valueUri: `${origin}/oauth/token` },
                { url: 'revoke', valueUri: `${origin}/oauth/revoke` },
              ],
            },
          ],
        },
        // Each chart type under the role lenses and care teams, then the audit trail under the audit permission.
        resource: [
          ...fhirResourceTypes.map((type) => ({
            type,
            interaction: [{ code: 'read' as const }, { code: 'search-type' as const }],
            searchParam: allowedParameters(type).map((name) => ({ name, type: searchTypes[name] ?? 'token' })),
            ...(type === 'Patient' ? { operation: [{ name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' }] } : {}),
          })),
          {
            type: PRACTITIONER,
            documentation: 'Only the user themself: the resource the ID token’s fhirUser claim names (granted openid fhirUser), with their name and roles. Any other id is not found.',
            interaction: [{ code: 'read' as const }],
          },
          {
            type: AUDIT_EVENT,
            documentation:
              'The audit trail, newest first, paged by cursor (no total). Only for users whose role may search the audit trail, with user/AuditEvent.rs (or user/*); every search and read is itself recorded.',
            interaction: [{ code: 'read' as const }, { code: 'search-type' as const }],
            searchParam: Object.entries(auditEventParameters).map(([name, type]) => ({ name, type })),
          },
        ],
      },
    ],
  };
}

export function smartConfiguration(base: string): Record<string, unknown> {
  const origin = base.slice(0, -FHIR_PATH.length);
  return {
    issuer: base,
    authorization_endpoint: `${origin}/oauth/authorize`,
    token_endpoint: `${origin}/oauth/token`,
    revocation_endpoint: `${origin}/oauth/revoke`,
    // SMART's OpenID Connect profile: ID tokens are signed ES256 with the key published here.
    jwks_uri: `${origin}/oauth/jwks`,
    id_token_signing_alg_values_supported: ['ES256'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types_supported: ['code'],
    token_endpoint_auth_methods_supported: ['none', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: BACKEND_ALGORITHMS,
    scopes_supported: supportedScopes,
    code_challenge_methods_supported: ['S256'],
    capabilities: [
      'sso-openid-connect',
      'launch-standalone',
      'launch-ehr',
      'client-public',
      'client-confidential-asymmetric',
      'context-standalone-patient',
      'context-ehr-patient',
      'permission-patient',
      'permission-user',
      'permission-offline',
      'permission-v1',
      'permission-v2',
    ],
  };
}
