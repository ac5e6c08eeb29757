import 'server-only';
import { isUuid } from '@/lib/domain/ids';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { patients } from '@/db/schema';
import { canBreakGlass } from '@/lib/domain/access/policy';
import { loadRelationship } from '@/lib/pipeline/relationship';
import type { Viewer } from '@/lib/domain/access/viewer';
import { recordAudit } from '@/lib/platform/audit';
import { DecryptionError, getPatientCipher } from '@/lib/platform/crypto';
import type { Demographics } from '@/lib/domain/chart/sections';
import { breakGlassReasons, reasonLabels } from '@/lib/domain/break-glass/justification';
import { getWindowMinutes } from '@/lib/features/break-glass/settings';

export interface PatientIdentity {
  name: string;
  dateOfBirth: string;
  mrn: string;
}

export type BreakGlassPrompt =
  | { kind: 'not_permitted' }
  | { kind: 'not_found' }
  | { kind: 'has_access'; patientId: string }
  | { kind: 'unavailable' }
  | {
      kind: 'prompt';
      patientId: string;
      identity: PatientIdentity;
      reasons: Array<{ code: string; label: string }>;
      windowMinutes: number;
    };


/**
 * What the emergency-access prompt may show: the patient's name, date of birth and MRN, just
 * enough to confirm it is the right person, and nothing else of the chart. Showing them is a
 * disclosure, so it is audited; a viewer who may not break glass gets nothing and is audited too.
 */
export async function getBreakGlassPrompt(viewer: Viewer, patientId: string): Promise<BreakGlassPrompt> {
  const db = await getDb();
  const [patient] = isUuid(patientId)
    ? await db.select().from(patients).where(eq(patients.id, patientId)).limit(1)
    : [];
  const audit = (outcome: 'allowed' | 'denied', details: Record<string, unknown>) =>
    db.transaction((tx) =>
      recordAudit(tx, {
        actor: viewer,
        action: 'break_glass.identity_view',
        resourceType: 'patient',
        resourceId: isUuid(patientId) ? patientId : null,
        patientId: patient ? patientId : null,
        outcome,
        details,
      }),
    );

  if (!canBreakGlass(viewer)) {
    await audit('denied', { reason: 'no_permission' });
    return { kind: 'not_permitted' };
  }
  if (!patient) {
    await audit('denied', { reason: 'not_found' });
    return { kind: 'not_found' };
  }
  const relationship = await loadRelationship(db, viewer, patientId);
  if (relationship.careTeam || relationship.breakGlassGrantId) return { kind: 'has_access', patientId };

  const { cipher, unwrapped } = await getPatientCipher(db, patientId);
  let demographics: Demographics;
  try {
    if (!cipher) throw new DecryptionError('patients.sealed_demographics');
    demographics = cipher.open<Demographics>('patients', 'sealed_demographics', patientId, patient.sealedDemographics);
  } catch (error) {
    if (!(error instanceof DecryptionError)) throw error;
    await audit('denied', { reason: 'unavailable' });
    return { kind: 'unavailable' };
  }
  await audit('allowed', { fields: ['name', 'date_of_birth', 'mrn'], keyUnwrapped: unwrapped });
  return {
    kind: 'prompt',
    patientId,
    identity: {
      name: `${demographics.familyName}, ${demographics.givenName}`,
      dateOfBirth: demographics.dateOfBirth,
      mrn: demographics.mrn,
    },
    reasons: breakGlassReasons.map((code) => ({ code, label: reasonLabels[code] })),
    windowMinutes: await getWindowMinutes(db),
  };
}
