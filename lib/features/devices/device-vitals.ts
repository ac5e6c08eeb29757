import 'server-only';
import { and, eq, lt } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { apiClientMessages, apiClientPatients, patients } from '@/db/schema';
import type { ApiClient } from '@/lib/features/devices/api-clients';
import type { SignedReading } from '@/lib/features/devices/device-message';
import { recordAudit, type AuditActor } from '@/lib/platform/audit';
import { getPatientCipher } from '@/lib/platform/crypto';
import { now as clockNow } from '@/lib/platform/clock';
import { vitalsBody } from '@/lib/domain/chart/sections';
import { fail, ok, type Result } from '@/lib/domain/result';
import { failure } from '@/lib/features/records/errors';
import { insertEntry } from '@/lib/features/records/writes';
import { auditActions } from '@/lib/domain/audit/actions';

/**
 * A device's reading may be buffered while the monitor is offline, but a chart must not fill with
 * readings from the future or from days ago that sort as the newest: `takenAt` is accepted from
 * this long ago up to the clock drift ahead.
 */
export const TAKEN_AT_MAX_AGE_MS = 24 * 60 * 60_000;
export const TAKEN_AT_MAX_AHEAD_MS = 2 * 60_000;

/**
 * A vitals reading from a device feed (the machine API), written like a clinician's entry:
 * validated, sealed with the patient's key, audited in the same transaction — with the API
 * client as the actor (no user; `created_by` stays empty) and the sender's audit id recorded.
 *
 * In the one transaction: the message id is claimed (a replay finds it taken), the patient must
 * be one the client serves — a patient that does not exist and one served by another feed get the
 * same `not_served` answer, the real reason only in the trail — and the reading's time must lie
 * in the window above.
 *
 * This is the one write that does not go through lib/pipeline's `operation()`: that construct's
 * steps (the role's permission, a password step-up, the sign-in re-read under a lock, the care
 * team) all belong to a signed-in person, and a device has none of them. Its checks — the API
 * client credential, the sender's audit id, the signed and encrypted payload — are made, and each
 * refusal audited, by vitals-endpoint.ts before this runs; the write and its audit entry still
 * commit together here.
 */
export async function addDeviceVitals(
  client: ApiClient,
  actor: Pick<AuditActor, 'ip' | 'userAgent'>,
  auditId: string,
  message: SignedReading,
): Promise<Result<{ id: string }, 'invalid' | 'not_served' | 'replayed' | 'unavailable'>> {
  const parsed = vitalsBody.safeParse(message.vitals);
  const at = clockNow();
  const takenAt = parsed.success ? Date.parse(parsed.data.takenAt) : NaN;
  if (!parsed.success || !(takenAt >= at.getTime() - TAKEN_AT_MAX_AGE_MS && takenAt <= at.getTime() + TAKEN_AT_MAX_AHEAD_MS)) {
    return fail('invalid', 'The reading is not a valid set of vitals.');
  }
  const db = await getDb();
  return db.transaction(async (tx) => {
    // Ids whose window has closed can never be replayed into acceptance again: forget them.
    await tx.delete(apiClientMessages).where(and(eq(apiClientMessages.clientId, client.id), lt(apiClientMessages.expiresAt, at)));
    const claimed = await tx
      .insert(apiClientMessages)
      .values({ clientId: client.id, jti: message.jti, expiresAt: message.expiresAt })
      .onConflictDoNothing()
      .returning({ jti: apiClientMessages.jti });
    if (claimed.length === 0) return fail('replayed', 'This message was already received.');

    const patientId = message.patientId;
    const uuidShaped = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(patientId);
    const [served] = uuidShaped
      ? await tx
          .select({ id: apiClientPatients.patientId })
          .from(apiClientPatients)
          .where(and(eq(apiClientPatients.clientId, client.id), eq(apiClientPatients.patientId, patientId)))
          .limit(1)
      : [];
    const audit = { actor: { userId: null, ...actor }, resourceType: 'vitals', details: { apiClientId: client.id, client: client.name, auditId, jti: message.jti } };
    if (!served) {
      const [exists] = uuidShaped ? await tx.select({ id: patients.id }).from(patients).where(eq(patients.id, patientId)).limit(1) : [];
      await recordAudit(tx, {
        ...audit,
        action: auditActions.vitals.deviceCreate,
        patientId: exists?.id ?? null,
        outcome: 'denied',
        details: { ...audit.details, reason: exists ? 'not_served' : 'not_found' },
      });
      return fail('not_served', 'This client does not serve that patient.');
    }
    const { cipher } = await getPatientCipher(tx, patientId);
    if (!cipher) return failure('unavailable');
    const id = await insertEntry(tx, cipher, 'vitals', null, parsed.data);
    if (!id) return failure('unavailable');
    await recordAudit(tx, { ...audit, action: auditActions.vitals.deviceCreate, resourceId: id, patientId, outcome: 'allowed', after: parsed.data, cipher });
    return ok({ id });
  });
}
