import 'server-only';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { patients } from '@/db/schema';
import type { ApiClient } from '@/lib/features/devices/api-clients';
import { recordAudit, type AuditActor } from '@/lib/platform/audit';
import { getPatientCipher } from '@/lib/platform/crypto';
import { vitalsBody } from '@/lib/domain/chart/sections';
import { failure, invalid, type WriteResult } from '@/lib/features/records/errors';
import { insertEntry } from '@/lib/features/records/writes';

/**
 * A vitals reading from a device feed (the machine API), written like a clinician's entry:
 * validated, sealed with the patient's key, audited in the same transaction — with the API
 * client as the actor (no user; `created_by` stays empty) and the sender's audit id recorded.
 * Device clients are trusted for every existing patient: the schema has no per-client scope.
 */
export async function addDeviceVitals(
  client: ApiClient,
  actor: Pick<AuditActor, 'ip' | 'userAgent'>,
  auditId: string,
  patientId: string,
  input: unknown,
): Promise<WriteResult<{ id: string }>> {
  const parsed = vitalsBody.safeParse(input);
  if (!parsed.success) return invalid('The reading is not a valid set of vitals.');
  const db = await getDb();
  return db.transaction(async (tx) => {
    const [patient] = /^[0-9a-f-]{36}$/i.test(patientId)
      ? await tx.select({ id: patients.id }).from(patients).where(eq(patients.id, patientId)).limit(1)
      : [];
    const audit = { actor: { userId: null, ...actor }, resourceType: 'vitals', details: { apiClientId: client.id, client: client.name, auditId } };
    if (!patient) {
      await recordAudit(tx, { ...audit, action: 'vitals.device_create', outcome: 'denied', details: { ...audit.details, reason: 'not_found' } });
      return failure('not_found');
    }
    const { cipher } = await getPatientCipher(tx, patientId);
    if (!cipher) return failure('unavailable');
    const id = await insertEntry(tx, cipher, 'vitals', null, parsed.data);
    if (!id) return failure('unavailable');
    await recordAudit(tx, { ...audit, action: 'vitals.device_create', resourceId: id, patientId, outcome: 'allowed', after: parsed.data, cipher });
    return { ok: true, value: { id } };
  });
}
