import 'server-only';
import { randomUUID } from 'node:crypto';
import { and, count, eq, gt } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable } from '@/db/client';
import { auditLog, breakGlassGrants } from '@/db/schema';
import { emergencyPermission } from '@/lib/domain/access/permission-names';
import { auditActions } from '@/lib/domain/audit/actions';
import { justificationSchema, reasonCodeSchema, reasonLabels } from '@/lib/domain/break-glass/justification';
import { fail, ok, type Result } from '@/lib/domain/result';
import { passwordStepUp } from '@/lib/features/credentials/reauth';
import { flagRepeatedUse } from '@/lib/features/break-glass/incident';
import { existingPatient, patientTarget } from '@/lib/features/break-glass/patient';
import { getWindowMinutes } from '@/lib/features/break-glass/settings';
import { kickAlertDelivery, notifyPrivacyOfficers } from '@/lib/features/notify';
import { locks } from '@/lib/pipeline/locks';
import { operation } from '@/lib/pipeline/operation';
import { loadRelationship } from '@/lib/pipeline/relationship';
import { getPatientCipher } from '@/lib/platform/crypto';
import { withMac } from '@/lib/platform/integrity';

export type GrantField = 'reasonCode' | 'justification' | 'secret';
export type GrantError =
  | 'not_permitted'
  | 'not_found'
  | 'has_access'
  | 'already_active'
  | 'invalid'
  | 'reauth_failed'
  | 'too_many_attempts'
  | 'unavailable';

export const grantMessages: Record<Exclude<GrantError, 'invalid'>, string> = {
  not_permitted: 'Emergency access is available to physicians and nurses only. This attempt has been recorded.',
  not_found: 'No patient matches this link.',
  has_access: 'You are on this patient’s care team and can open the chart without emergency access.',
  already_active: 'You already have emergency access to this chart. A new request, with a new justification, can be made when it ends.',
  reauth_failed: 'Your password or authentication code was not accepted. Enter it again.',
  too_many_attempts: 'Too many wrong passwords or codes. Sign out and sign in again before requesting emergency access.',
  unavailable: 'This patient’s record is unavailable, so emergency access cannot be granted. Contact the service desk.',
};

const requestSchema = z.object({
  patientId: z.uuid(),
  reasonCode: reasonCodeSchema,
  justification: justificationSchema,
  secret: z
    .string({ error: 'Enter your password or authentication code.' })
    .min(1, 'Enter your password or authentication code.')
    .max(1024, 'Your password or authentication code was not accepted. Enter it again.'),
});

/** Failed step-ups of a session lately before the prompt stops accepting secrets. */
const MAX_REAUTH_FAILURES = 5;
const REAUTH_FAILURE_WINDOW_MS = 15 * 60_000;

export interface Grant {
  grantId: string;
  patientId: string;
  expiresAt: Date;
  windowMinutes: number;
}

/** A malformed patient id is a link to nobody; the other fields are answered field by field. */
function invalidRequest(error: z.ZodError) {
  if (error.issues.some((issue) => issue.path[0] === 'patientId')) return fail('not_found', grantMessages.not_found);
  const fieldErrors: Partial<Record<GrantField, string>> = {};
  for (const issue of error.issues) fieldErrors[issue.path[0] as GrantField] ??= issue.message;
  const message = fieldErrors.reasonCode ?? fieldErrors.justification ?? fieldErrors.secret ?? 'Check the form and try again.';
  return fail('invalid', message, fieldErrors);
}

/**
 * Grants a clinician outside the care team time-boxed access to one patient's chart. Every
 * refusal is audited with its reason (never the justification text), so forged posts from
 * roles without the permission show up in the trail. In order: permission → a well-formed
 * request for a patient that exists → no relationship, no live grant and not too many wrong
 * passwords lately → the password (only for a request that would otherwise be granted) → under
 * a per-user lock, the same checks again, then the grant, its audit entry, the privacy notice
 * and the repeated-use check, in one transaction. Alert delivery runs after, off the request.
 */
export const requestGrant = operation({
  name: 'break-glass.request',
  action: auditActions.breakGlass.request,
  resourceType: 'patient',
  permission: { category: 'emergency', name: emergencyPermission.breakGlass },
  deniedMessage: grantMessages.not_permitted,
  deniedError: 'not_permitted',
  denialReason: 'not_permitted',
  target: patientTarget,
  targetPatient: existingPatient,
  input: requestSchema,
  invalid: invalidRequest,
  auditInvalid: true,
  stepUp: {
    by: passwordStepUp,
    secret: (raw) => (raw as { secret?: unknown } | null)?.secret as string | undefined,
    afterChecks: true,
    refusal: fail('reauth_failed', grantMessages.reauth_failed, { secret: grantMessages.reauth_failed }),
  },
  lock: (_input, viewer) => locks.breakGlassRequest(viewer.userId),
  authorize: async ({ tx, viewer, input, at }) => {
    if (!(await existingPatient(tx, input.patientId))) return { allowed: false, reason: 'not_found', answer: fail('not_found', grantMessages.not_found) };
    const relationship = await loadRelationship(tx, viewer, input.patientId, at);
    if (relationship.careTeam) return { allowed: false, reason: 'has_access', answer: fail('has_access', grantMessages.has_access) };
    if (relationship.breakGlassGrantId) {
      return {
        allowed: false,
        reason: 'already_active',
        details: { activeGrantId: relationship.breakGlassGrantId },
        answer: fail('already_active', grantMessages.already_active),
      };
    }
    if ((await recentReauthFailures(tx, viewer.sessionId)) >= MAX_REAUTH_FAILURES) {
      return { allowed: false, reason: 'too_many_attempts', answer: fail('too_many_attempts', grantMessages.too_many_attempts) };
    }
    return { allowed: true, facts: undefined };
  },
  auditedFailures: ['unavailable'],
  run: async ({ tx, viewer, input, at, audit }): Promise<Result<Grant, 'unavailable'>> => {
    const { patientId, reasonCode, justification } = input;
    const { cipher } = await getPatientCipher(tx, patientId);
    if (!cipher) return fail('unavailable', grantMessages.unavailable);
    const windowMinutes = await getWindowMinutes(tx);
    const grantId = randomUUID();
    const expiresAt = new Date(at.getTime() + windowMinutes * 60_000);
    await tx.insert(breakGlassGrants).values(
      withMac('break_glass_grants', {
        id: grantId,
        userId: viewer.userId,
        patientId,
        sessionId: viewer.sessionId,
        reasonCode,
        sealedJustification: cipher.seal('break_glass_grants', 'sealed_justification', grantId, justification),
        grantedAt: at,
        expiresAt,
        endedAt: null,
        reviewStatus: 'pending',
        reviewerId: null,
        reviewedAt: null,
      }),
    );
    await audit({
      action: auditActions.breakGlass.grant,
      resourceType: 'break_glass_grant',
      resourceId: grantId,
      patientId,
      breakGlassGrantId: grantId,
      details: { reasonCode, windowMinutes, expiresAt: expiresAt.toISOString(), justificationLength: justification.length },
    });
    await notifyPrivacyOfficers(tx, {
      kind: 'break_glass.granted',
      message: `${viewer.displayName} used emergency access to a patient chart (${reasonLabels[reasonCode]}).`,
      link: `/admin/break-glass/${grantId}`,
    });
    await flagRepeatedUse(tx, viewer.userId, at);
    return ok({ grantId, patientId, expiresAt, windowMinutes });
  },
  afterCommit: () => kickAlertDelivery(),
});

/**
 * Failed step-ups of this session lately, read from the audit trail that the password check
 * writes. Audit timestamps are wall-clock, so the window is too.
 */
async function recentReauthFailures(q: Queryable, sessionId: string): Promise<number> {
  const [row] = await q
    .select({ n: count() })
    .from(auditLog)
    .where(
      and(
        eq(auditLog.actionType, auditActions.auth.reauthenticate),
        eq(auditLog.resourceId, sessionId),
        eq(auditLog.outcome, 'denied'),
        gt(auditLog.occurredAt, new Date(Date.now() - REAUTH_FAILURE_WINDOW_MS)),
      ),
    );
  return row?.n ?? 0;
}
