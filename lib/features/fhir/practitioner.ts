import 'server-only';
import type { Practitioner } from '@medplum/fhirtypes';
import { z } from 'zod';
import type { Viewer } from '@/lib/domain/access/viewer';
import { auditActions } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { operation } from '@/lib/pipeline/operation';
import { fhirNotFound } from '@/lib/features/fhir/read';

/**
 * The signed-in user as FHIR: the `Practitioner` an ID token's `fhirUser` claim names, by the
 * user id the trail and the exported AuditEvents use. It holds the user's name and the words of
 * their roles, nothing about any patient, and answers only its own user, through a token granted
 * `fhirUser`: anyone else's id is the API's one "not found", so staff cannot be listed or probed.
 */
export const PRACTITIONER = 'Practitioner';
export const USER_SYSTEM = 'urn:vigil:user';

/** The absolute URL SMART's `fhirUser` claim carries. */
export const practitionerUrl = (fhirBase: string, userId: string) => `${fhirBase}/${PRACTITIONER}/${userId}`;

// R4 Practitioner has no role element (that is PractitionerRole, not served): the role words stand as qualifications.
export const practitionerResource = (viewer: Pick<Viewer, 'userId' | 'displayName' | 'roles'>): Practitioner => ({
  resourceType: PRACTITIONER,
  id: viewer.userId,
  identifier: [{ system: USER_SYSTEM, value: viewer.userId }],
  active: true,
  name: [{ text: viewer.displayName }],
  ...(viewer.roles.length ? { qualification: viewer.roles.map((role) => ({ code: { text: role.replace(/_/g, ' ') } })) } : {}),
});

const readInput = z.object({
  id: z.string().max(80),
  /** The token's `fhirUser` claim: present only when the app was granted `openid fhirUser`. */
  fhirUser: z.string().max(600).nullable(),
  client: z.string().max(100),
});

export const readOwnPractitioner = operation({
  name: 'fhir.practitioner.read',
  action: auditActions.fhir.readSelf,
  resourceType: 'user',
  deniedMessage: fhirNotFound,
  input: readInput,
  invalid: () => fail('invalid', 'The request could not be read.'),
  authorize: async ({ viewer, input }) => {
    const refuse = (reason: string) => ({
      allowed: false as const,
      reason,
      resourceId: null,
      details: { interaction: 'read', resourceType: PRACTITIONER, client: input.client },
      answer: fail('not_found' as const, fhirNotFound),
    });
    if (input.id !== viewer.userId) return refuse('not_found');
    if (!input.fhirUser) return refuse('outside_scope');
    return { allowed: true as const, facts: undefined };
  },
  run: async ({ viewer, input, audit }): Promise<Result<Practitioner, 'not_found'>> => {
    await audit({ resourceId: viewer.userId, details: { interaction: 'read', resourceType: PRACTITIONER, client: input.client } });
    return ok(practitionerResource(viewer));
  },
});
