import 'server-only';
import { auditActions } from '@/lib/domain/audit/actions';

/**
 * IHE Basic Audit Log Patterns for the API's own entries: a `fhir.read` or `fhir.search` entry
 * exported as a FHIR AuditEvent becomes a RESTful event (type `rest`, subtype the FHIR
 * interaction), names the SMART app as a second agent, and lists each returned resource as a
 * data entity. The query text itself is never kept (a family name is PHI), so there is no query entity.
 */
const interactions: Record<string, string> = { read: 'read', search: 'search-type', everything: 'operation' };
/** The `interaction` values a `fhir.read` entry records, each exported as its own RESTful interaction. */
export const recordedInteractions = Object.keys(interactions);

export function withBalpRest(event: Record<string, unknown>, action: string, details: Record<string, unknown> | null): Record<string, unknown> {
  if (action !== auditActions.fhir.read && action !== auditActions.fhir.search) return event;
  const interaction = action === auditActions.fhir.search ? 'search-type' : (interactions[String(details?.interaction)] ?? 'read');
  const client = typeof details?.client === 'string' ? details.client : null;
  const returned = Array.isArray(details?.returned) ? details.returned.filter((r): r is string => typeof r === 'string') : [];
  const shown = Array.isArray(details?.shown) ? details.shown.filter((r): r is string => typeof r === 'string').map((id) => `Patient/${id}`) : [];
  const agents = (event.agent as unknown[] | undefined) ?? [];
  const entities = (event.entity as unknown[] | undefined) ?? [];
  return {
    ...event,
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' },
    subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: interaction }, ...((event.subtype as unknown[] | undefined) ?? [])],
    action: interaction === 'read' ? 'R' : 'E',
    agent: [
      ...agents,
      ...(client
        ? [
            {
              type: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110150', display: 'Application' }] },
              who: { identifier: { system: 'urn:vigil:smart-app', value: client } },
              requestor: false,
            },
          ]
        : []),
    ],
    entity: [
      ...entities,
      ...[...returned, ...shown].map((reference) => ({
        what: { reference },
        type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
        role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '4', display: 'Domain Resource' },
      })),
    ],
  };
}
