import 'server-only';
import { addDeviceVitals } from '@/lib/features/devices/device-vitals';
import { openSignedReading } from '@/lib/features/devices/device-message';
import { auditApiRejection, authenticateApiClient, type ApiClient, type ApiRejection } from '@/lib/features/devices/api-clients';
import { auditActions } from '@/lib/domain/audit/actions';

/**
 * `POST /api/phi/vitals`, framework-free so it can be tested directly. In order: an
 * authenticated client (before a byte of the body is read), an `x-audit-id` correlation header,
 * a body read up to its cap that is a compact JWE (never plaintext PHI, whatever its content
 * type), which decrypts with the portal key to a JWS the client signed for this endpoint within
 * the last few minutes (lib/features/devices/device-message.ts), then — in one transaction — its
 * message id claimed once, the patient one the client serves, and the write. Every refusal is
 * audited with its reason and no payload, tallied per address when no client is known.
 */
export interface VitalsRequest {
  authorization: string | null;
  auditId: string | null;
  /** Called only once the client is authenticated; null when the body passes MAX_BODY_BYTES. */
  readBody: () => Promise<string | null>;
  ip: string | null;
  userAgent: string | null;
}
export interface VitalsResponse {
  status: number;
  body: Record<string, unknown>;
}

export const VITALS_ENDPOINT = auditActions.api.phiVitals;
export const MAX_BODY_BYTES = 64 * 1024;
const compactJwe = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const auditIdShape = /^[A-Za-z0-9._:-]{8,128}$/;

const refusals: Record<ApiRejection, VitalsResponse> = {
  unauthenticated: { status: 401, body: { error: 'client not authenticated' } },
  no_audit_id: { status: 403, body: { error: 'audit trail required' } },
  unencrypted: { status: 400, body: { error: 'unencrypted PHI rejected' } },
  undecryptable: { status: 400, body: { error: 'payload could not be decrypted' } },
  unsigned: { status: 401, body: { error: 'payload is not signed by this client' } },
  stale: { status: 401, body: { error: 'message is outside its time window' } },
  replayed: { status: 409, body: { error: 'message already received' } },
  invalid: { status: 422, body: { error: 'reading is not valid' } },
  // The same answer whether the patient does not exist or is another feed's: ids cannot be probed.
  not_served: { status: 403, body: { error: 'patient is not served by this client' } },
  too_large: { status: 413, body: { error: 'payload too large' } },
};

export async function handleVitalsRequest(request: VitalsRequest): Promise<VitalsResponse> {
  const actor = { ip: request.ip, userAgent: request.userAgent };
  const client = await authenticateApiClient(request.authorization);
  const auditId = request.auditId && auditIdShape.test(request.auditId) ? request.auditId : null;
  const refuse = async (reason: ApiRejection, who: ApiClient | null = client) => {
    await auditApiRejection(actor, VITALS_ENDPOINT, reason, who, auditId);
    return refusals[reason];
  };
  if (!client) return refuse('unauthenticated');
  if (!auditId) return refuse('no_audit_id');
  const raw = await request.readBody();
  if (raw === null || Buffer.byteLength(raw, 'utf8') > MAX_BODY_BYTES) return refuse('too_large');
  const body = raw.trim();
  if (!compactJwe.test(body)) return refuse('unencrypted');

  const opened = await openSignedReading(body, client);
  if (!opened.ok) return refuse(opened.reason);
  const result = await addDeviceVitals(client, actor, auditId, opened.reading);
  if (result.ok) return { status: 201, body: { id: result.value.id, auditId } };
  // addDeviceVitals audits its own scope denial in its transaction; the other refusals are audited here.
  if (result.error === 'not_served') return refusals.not_served;
  if (result.error === 'invalid' || result.error === 'replayed') return refuse(result.error);
  return { status: 409, body: { error: 'reading could not be stored' } };
}
