import 'server-only';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { patients } from '@/db/schema';
import { emergencyPermission } from '@/lib/domain/access/permission-names';
import { auditActions } from '@/lib/domain/audit/actions';
import { breakGlassReasons, reasonLabels } from '@/lib/domain/break-glass/justification';
import type { Demographics } from '@/lib/domain/chart/sections';
import { fail, ok, type Result } from '@/lib/domain/result';
import { existingPatient, patientTarget } from '@/lib/features/break-glass/patient';
import { getWindowMinutes } from '@/lib/features/break-glass/settings';
import { operation } from '@/lib/pipeline/operation';
import { loadRelationship } from '@/lib/pipeline/relationship';
import { DecryptionError, getPatientCipher } from '@/lib/platform/crypto';

export interface PatientIdentity {
  name: string;
  dateOfBirth: string;
  mrn: string;
}

export interface BreakGlassPrompt {
  patientId: string;
  identity: PatientIdentity;
  reasons: Array<{ code: string; label: string }>;
  windowMinutes: number;
}

/** Why there is no prompt; `has_access` is no refusal: the chart opens without emergency access. */
export type PromptError = 'not_permitted' | 'not_found' | 'has_access' | 'unavailable';

export const promptMessages: Record<PromptError, string> = {
  not_permitted: 'Emergency access is for physicians and nurses treating a patient. This attempt has been recorded.',
  not_found: 'Check the link, or find the patient from the patient list.',
  has_access: 'You can open this chart without emergency access.',
  unavailable: 'Emergency access cannot be granted because the record cannot be read. Contact the service desk.',
};

/**
 * What the emergency-access prompt may show: the patient's name, date of birth and MRN, just
 * enough to confirm it is the right person, and nothing else of the chart. Showing them is a
 * disclosure, so it is audited; a viewer who may not break glass gets nothing and is audited too.
 * Called with the patient id of the link.
 */
export const getBreakGlassPrompt = operation({
  name: 'break-glass.identity',
  action: auditActions.breakGlass.identityView,
  resourceType: 'patient',
  permission: { category: 'emergency', name: emergencyPermission.breakGlass },
  deniedMessage: promptMessages.not_permitted,
  deniedError: 'not_permitted',
  target: patientTarget,
  targetPatient: existingPatient,
  input: z.uuid(),
  invalid: () => fail('not_found', promptMessages.not_found),
  auditInvalid: true,
  authorize: async ({ tx, input }) => {
    const [patient] = await tx.select({ sealed: patients.sealedDemographics }).from(patients).where(eq(patients.id, input)).limit(1);
    if (!patient) return { allowed: false, reason: 'not_found', answer: fail('not_found', promptMessages.not_found) };
    return { allowed: true, facts: { sealedDemographics: patient.sealed } };
  },
  auditedFailures: ['unavailable'],
  run: async ({ tx, viewer, input: patientId, facts, at, audit }): Promise<Result<BreakGlassPrompt, 'has_access' | 'unavailable'>> => {
    const relationship = await loadRelationship(tx, viewer, patientId, at);
    if (relationship.careTeam || relationship.breakGlassGrantId) return fail('has_access', promptMessages.has_access);

    const { cipher, unwrapped } = await getPatientCipher(tx, patientId);
    let demographics: Demographics;
    try {
      if (!cipher) throw new DecryptionError('patients.sealed_demographics');
      demographics = cipher.open<Demographics>('patients', 'sealed_demographics', patientId, facts.sealedDemographics);
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      return fail('unavailable', promptMessages.unavailable);
    }
    await audit({ resourceId: patientId, patientId, details: { fields: ['name', 'date_of_birth', 'mrn'], keyUnwrapped: unwrapped } });
    return ok({
      patientId,
      identity: {
        name: `${demographics.familyName}, ${demographics.givenName}`,
        dateOfBirth: demographics.dateOfBirth,
        mrn: demographics.mrn,
      },
      reasons: breakGlassReasons.map((code) => ({ code, label: reasonLabels[code] })),
      windowMinutes: await getWindowMinutes(tx),
    });
  },
});
