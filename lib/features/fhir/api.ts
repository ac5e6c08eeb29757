import 'server-only';
import type { AuditEvent, Resource } from '@medplum/fhirtypes';
import { getDb } from '@/db/client';
import { AUDIT_EVENT, backendPermissions, isFhirResourceType, narrowPermissions } from '@/lib/domain/access/smart-scopes';
import type { Viewer } from '@/lib/domain/access/viewer';
import { auditActions } from '@/lib/domain/audit/actions';
import { recordAudit } from '@/lib/platform/audit';
import { resolveViewerState } from '@/lib/features/auth/viewer-state';
import { toFhirAuditEvent } from '@/lib/features/audit-review/export';
import { appFor } from '@/lib/features/fhir/apps';
import { readAuditEvent, searchAuditEvents } from '@/lib/features/fhir/audit-events';
import { keysetSearchset, outcome, pageOf, searchset, type OutcomeCode } from '@/lib/features/fhir/bundle';
import { fhirNotFound, readCompartment, searchPatients, type TokenGrant } from '@/lib/features/fhir/read';
import { patientResource } from '@/lib/features/fhir/resources';
import { parseSearch } from '@/lib/features/fhir/search';
import { PRACTITIONER, readOwnPractitioner } from '@/lib/features/fhir/practitioner';
import { grantStanding } from '@/lib/features/fhir/smart-grants';
import { verifyAccessToken } from '@/lib/features/fhir/tokens';

/**
 * `GET /fhir/R4/...`, framework-free so tests drive it directly. In order: a bearer token that
 * verifies (signature, expiry, audience), an app still registered, a user app's grant still
 * standing (a replayed code or a revocation ends it), the Vigil session behind it
 * (a backend client's: its service account's) still alive (checked like a page request, without counting as activity, so the idle timeout
 * ends the token too), then the guarded operation with the user's permissions narrowed to the
 * token's scopes. Every refusal is an OperationOutcome with a fixed sentence, and audited.
 */
export interface FhirRequest {
  url: URL;
  fhirBase: string;
  authorization: string | null;
  ip: string | null;
  userAgent: string | null;
  at: Date;
}

export interface FhirResponse {
  status: number;
  body: Resource;
  headers?: Record<string, string>;
}

const answer = (status: number, code: OutcomeCode, message: string, headers?: Record<string, string>): FhirResponse => ({
  status,
  body: outcome(code, message),
  headers,
});
const idShape = /^[A-Za-z0-9.-]{1,64}$/;

async function refuseToken(request: FhirRequest, reason: string, userId: string | null): Promise<FhirResponse> {
  const db = await getDb();
  await db.transaction((tx) =>
    recordAudit(tx, {
      actor: { userId, ip: request.ip, userAgent: request.userAgent },
      action: auditActions.fhir.refused,
      resourceType: 'fhir',
      outcome: 'denied',
      details: { reason },
    }),
  );
  return answer(401, 'login', 'A valid access token is required.', { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
}

/** The viewer a token acts as (and the user it may name as `fhirUser`), or the refusal already audited. */
async function tokenViewer(request: FhirRequest): Promise<{ viewer: Viewer; grant: TokenGrant; fhirUser: string | null } | { refused: FhirResponse }> {
  const bearer = /^Bearer ([A-Za-z0-9._-]{10,4096})$/.exec(request.authorization ?? '')?.[1];
  if (!bearer) return { refused: await refuseToken(request, 'no_token', null) };
  const verified = await verifyAccessToken(bearer, request.fhirBase, request.at);
  if (!verified.ok) return { refused: await refuseToken(request, verified.problem, null) };
  const { claims } = verified;
  const app = await appFor(claims.client_id);
  if (!app) return { refused: await refuseToken(request, 'app_revoked', claims.sub) };
  // A backend client's token acts as its service account only; a user app's never carries system scopes.
  const backend = app.kind === 'backend';
  if (backend ? claims.sub !== app.serviceUserId : claims.system_types.length > 0) return { refused: await refuseToken(request, 'client_mismatch', claims.sub) };
  if (!backend) {
    const standing = claims.grant_id ? await grantStanding(claims.grant_id) : 'unknown';
    if (standing !== 'standing') return { refused: await refuseToken(request, `grant_${standing}`, claims.sub) };
  }
  const state = await resolveViewerState(await getDb(), claims.sid, { ip: request.ip, userAgent: request.userAgent }, { at: request.at, touch: 'never' });
  if (!state.viewer || state.viewer.userId !== claims.sub || state.mfaEnrolmentPending) {
    return { refused: await refuseToken(request, `session_${state.viewer ? 'mismatch' : state.reason}`, claims.sub) };
  }
  const grant: TokenGrant = {
    user: claims.user_types,
    patient: claims.patient_types,
    system: backend ? claims.system_types : [],
    launchPatient: claims.patient,
    client: claims.client_id,
    // Read from the registration now, so an admin's change of the grant applies to the next request.
    backend: backend ? { patients: app.grantedPatients, sections: app.grantedSections } : null,
  };
  const permissions = backend ? backendPermissions(app.grantedSections, grant.system) : narrowPermissions(state.viewer.permissions, [...new Set([...grant.user, ...grant.patient])]);
  return { viewer: { ...state.viewer, permissions }, grant, fhirUser: claims.fhirUser };
}

/** The refusal of an operation that is not the viewer's to run, or that could not run now. */
function refusal(result: { error: string; message?: string }, deniedMessage: string): FhirResponse {
  if (result.error === 'invalid') return answer(400, 'invalid', result.message ?? 'The request could not be read.');
  if (result.error === 'denied') return answer(403, 'forbidden', result.message ?? deniedMessage);
  return answer(503, 'exception', result.message ?? 'The server cannot answer now. Try again.');
}

/** `AuditEvent/[id]` and `AuditEvent?…` (lib/features/fhir/audit-events.ts): the portal's audit search, refused as it refuses. */
async function auditEvents(request: FhirRequest, viewer: Viewer, client: string, id: string | undefined): Promise<FhirResponse> {
  if (id) {
    const read = await readAuditEvent(viewer, { client, id }, request.at);
    if (!read.ok) return refusal(read, fhirNotFound);
    return read.value ? { status: 200, body: toFhirAuditEvent(read.value) as unknown as AuditEvent } : answer(404, 'not-found', fhirNotFound);
  }
  const found = await searchAuditEvents(viewer, { client, params: request.url.searchParams }, request.at);
  if (!found.ok) return refusal(found, fhirNotFound);
  const resources = found.value.entries.map((e) => toFhirAuditEvent(e) as unknown as AuditEvent);
  return { status: 200, body: keysetSearchset(request.fhirBase, request.url, resources, found.value.next) };
}

/** `Practitioner/[id]`: the user themself, the resource an ID token's `fhirUser` names (./practitioner.ts). */
async function ownPractitioner(request: FhirRequest, id: string): Promise<FhirResponse> {
  const who = await tokenViewer(request);
  if ('refused' in who) return who.refused;
  const read = await readOwnPractitioner(who.viewer, { id, fhirUser: who.fhirUser, client: who.grant.client }, request.at);
  if (!read.ok) return read.error === 'not_found' ? answer(404, 'not-found', fhirNotFound) : refusal(read, fhirNotFound);
  return { status: 200, body: read.value };
}

export async function handleFhirRequest(request: FhirRequest): Promise<FhirResponse> {
  const path = request.url.pathname.replace(/^.*?\/fhir\/R4\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [type, id, op] = path;
  if (type === AUDIT_EVENT && path.length <= 2 && (id === undefined || idShape.test(id))) {
    const who = await tokenViewer(request);
    return 'refused' in who ? who.refused : auditEvents(request, who.viewer, who.grant.client, id);
  }
  if (type === PRACTITIONER && path.length === 2 && id !== undefined && idShape.test(id)) return ownPractitioner(request, id);
  if (!type || !isFhirResourceType(type) || path.length > 3 || (id !== undefined && !idShape.test(id)) || (op !== undefined && (op !== '$everything' || type !== 'Patient'))) {
    return answer(404, 'not-supported', 'This server does not support that request.');
  }
  const who = await tokenViewer(request);
  if ('refused' in who) return who.refused;
  const { viewer, grant } = who;
  const search = parseSearch(type, id ? new URLSearchParams(op ? request.url.search : '') : request.url.searchParams);
  if (!search.ok) return answer(400, 'invalid', search.message);
  const { filters } = search;

  if (!id && type === 'Patient' && !filters.patient) {
    const found = await searchPatients(viewer, { grant, filters }, request.at);
    if (!found.ok) return answer(403, 'forbidden', found.message ?? 'You do not have access to patient search.');
    const resources = found.value.matches.map((m) => patientResource(m.id, m.demographics));
    return { status: 200, body: searchset(request.fhirBase, request.url, { items: resources, total: found.value.total, offset: filters.offset, count: filters.count }) };
  }
  const patientId = id && op ? id : (filters.patient ?? grant.launchPatient);
  if (!id && !patientId) return answer(400, 'invalid', `Search ${type} within one patient: add the patient parameter.`);
  const interaction = op ? 'everything' : id ? 'read' : 'search';
  const result = await readCompartment(viewer, { grant, interaction, resourceType: type, id: interaction === 'read' ? id : patientId, filters }, request.at);
  if (!result.ok) return answer(404, 'not-found', 'No resource with that id is available to you.');
  if (interaction === 'read') return { status: 200, body: result.value.resources[0]! };
  return {
    status: 200,
    body: searchset(request.fhirBase, request.url, { ...pageOf(result.value.resources, 0, filters.count), total: result.value.total, offset: filters.offset }),
  };
}
