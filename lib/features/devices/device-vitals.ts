import 'server-only';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { patients } from '@/db/schema';
import type { ApiClient } from '@/lib/features/devices/api-clients';
import { recordAudit, type AuditActor } from '@/lib/platform/audit';
import { getPatientCipher } from '@/lib/platform/crypto';
import { vitalsBody } from '@/lib/domain/chart/sections';
import { fail, ok, type Result } from '@/lib/domain/result';
import { failure } from '@/lib/features/records/errors';
import { insertEntry } from '@/lib/features/records/writes';
import { auditActions } from '@/lib/domain/audit/actions';

/**
 * A vitals reading from a device feed (the machine API), written like a clinician's entry:
 * validated, sealed with the patient's key, audited in the same transaction — with the API
 * client as the actor (no user; `created_by` stays empty) and the sender's audit id recorded.
 * Device clients are trusted for every existing patient: the schema has no per-client scope.
 *
 * This is the one write that does not go through lib/pipeline's `operation()`: that construct's
 * steps (the role's permission, a password step-up, the sign-in re-read under a lock, the care
 * team) all belong to a signed-in person, and a device has none of them. Its checks — the API
 * client credential, the sender's audit id, the encrypted payload — are made, and each refusal
 * audited, by vitals-endpoint.ts before this runs; the write and its audit entry still commit
 * together here.
 */
export async function addDeviceVitals(
  client: ApiClient,
  actor: Pick<AuditActor, 'ip' | 'userAgent'>,
  auditId: string,
  patientId: string,
  input: unknown,
): Promise<Result<{ id: string }, 'invalid' | 'not_found' | 'unavailable'>> {
  const parsed = vitalsBody.safeParse(input);
  if (!parsed.success) return fail('invalid', 'The reading is not a valid set of vitals.');
  const db = await getDb();
  return db.transaction(async (tx) => {
    const [patient] = /^[0-9a-f-]{36}$/i.test(patientId)
      ? await tx.select({ id: patients.id }).from(patients).where(eq(patients.id, patientId)).limit(1)
      : [];
    const audit = { actor: { userId: null, ...actor }, resourceType: 'vitals', details: { apiClientId: client.id, client: client.name, auditId } };
    if (!patient) {
      await recordAudit(tx, { ...audit, action: auditActions.vitals.deviceCreate, outcome: 'denied', details: { ...audit.details, reason: 'not_found' } });
      return failure('not_found');
    }
    const { cipher } = await getPatientCipher(tx, patientId);
    if (!cipher) return failure('unavailable');
    const id = await insertEntry(tx, cipher, 'vitals', null, parsed.data);
    if (!id) return failure('unavailable');
    await recordAudit(tx, { ...audit, action: auditActions.vitals.deviceCreate, resourceId: id, patientId, outcome: 'allowed', after: parsed.data, cipher });
    return ok({ id });
  });
}
