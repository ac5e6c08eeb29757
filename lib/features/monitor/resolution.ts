import 'server-only';
import { and, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Tx } from '@/db/client';
import { incidents, users } from '@/db/schema';
import { auditPermission } from '@/lib/domain/access/permission-names';
import { auditActions } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { updateWithMac } from '@/lib/platform/integrity';
import { caseTarget, deniedMessages } from '@/lib/features/monitor/case-rows';
import { MONITOR_DISABLE_PREFIX } from '@/lib/features/monitor/incidents';
import { resolutionCommentDigest, sealResolutionComment } from '@/lib/features/monitor/resolution-comment';
import { operation, type AuditFacts } from '@/lib/pipeline/operation';

export const resolveIncidentSchema = z.object({
  incidentId: z.uuid({ error: 'This case could not be found.' }),
  decision: z.enum(['appropriate', 'confirmed'], { error: 'Choose “appropriate” or “confirm and refer”.' }),
  comment: z
    .string({ error: 'Write a comment explaining the decision.' })
    .trim()
    .min(10, 'Write a comment of at least 10 characters explaining the decision.')
    .max(2000, 'Keep the comment under 2,000 characters.'),
});

export interface Resolution {
  status: 'resolved_appropriate' | 'confirmed';
  reEnabled: boolean;
}

/**
 * A privacy officer's decision on a case. "Appropriate" closes it and re-enables an account
 * the monitor disabled, unless another open CRITICAL case still holds it (or someone else
 * disabled it for another reason). "Confirmed" closes it for referral and leaves the account
 * as it is. Nobody decides their own case. Every outcome, refusals included, is audited.
 */
export const resolveIncident = operation({
  name: 'monitor.incident-resolve',
  action: auditActions.incident.resolve,
  resourceType: 'incident',
  permission: { category: 'audit', name: auditPermission.resolveIncidents },
  deniedMessage: deniedMessages.resolve,
  target: caseTarget,
  input: resolveIncidentSchema,
  invalid: (error) => fail('invalid', error.issues[0]?.message ?? 'Check the form and try again.'),
  run: async ({ tx, viewer, input, at, audit, auditRefusal }): Promise<Result<Resolution, 'not_found' | 'already_resolved' | 'own_case'>> => {
    const { incidentId, decision, comment } = input;
    const [incident] = await tx.select().from(incidents).where(eq(incidents.id, incidentId)).for('update').limit(1);
    if (!incident) return fail('not_found', 'This case could not be found.');
    const refuse = async (error: 'already_resolved' | 'own_case', message: string) => {
      await auditRefusal(error, { details: { subjectUserId: incident.userId } });
      return fail(error, message);
    };
    if (incident.userId === viewer.userId) return refuse('own_case', 'A case about your own account must be decided by another privacy officer.');
    if (incident.status !== 'open') return refuse('already_resolved', 'This case has already been decided.');

    const status = decision === 'appropriate' ? 'resolved_appropriate' : 'confirmed';
    await tx
      .update(incidents)
      .set({ status, resolvedBy: viewer.userId, resolvedAt: at, sealedResolutionComment: sealResolutionComment(incidentId, comment) })
      .where(eq(incidents.id, incidentId));
    await audit({
      resourceId: incidentId,
      occurredAt: at,
      details: { decision: status, rule: incident.rule, severity: incident.severity, subjectUserId: incident.userId, commentHmac: resolutionCommentDigest(comment) },
    });
    const reEnabled = decision === 'appropriate' ? await reEnableIfHeldOnlyByMonitor(tx, audit, incident.userId, incidentId, at) : false;
    const message =
      decision === 'confirmed'
        ? 'Case confirmed and referred. The account stays as it is.'
        : reEnabled
          ? 'Case resolved as appropriate. The account is enabled again.'
          : 'Case resolved as appropriate.';
    return ok({ status, reEnabled }, message);
  },
});

async function reEnableIfHeldOnlyByMonitor(tx: Tx, audit: (facts: AuditFacts) => Promise<void>, userId: string, incidentId: string, at: Date): Promise<boolean> {
  const [user] = await tx.select({ disabledAt: users.disabledAt, disabledReason: users.disabledReason }).from(users).where(eq(users.id, userId)).for('update').limit(1);
  if (!user?.disabledAt || !user.disabledReason?.startsWith(MONITOR_DISABLE_PREFIX)) return false;
  const [stillHeld] = await tx
    .select({ id: incidents.id })
    .from(incidents)
    .where(and(eq(incidents.userId, userId), eq(incidents.status, 'open'), eq(incidents.severity, 'CRITICAL')))
    .limit(1);
  if (stillHeld) return false;
  await updateWithMac(tx, 'users', eq(users.id, userId), { disabledAt: null, disabledReason: null });
  await audit({
    action: auditActions.user.enable,
    resourceType: 'user',
    resourceId: userId,
    occurredAt: at,
    details: { reason: 'incident_resolved_appropriate', incidentId },
  });
  return true;
}
