import 'server-only';
import { randomUUID } from 'node:crypto';
import { and, count, eq, gt, sql } from 'drizzle-orm';
import { z } from 'zod';
import { getDb, type Queryable, type Tx } from '@/db/client';
import { auditLog, breakGlassGrants, patients } from '@/db/schema';
import { canBreakGlass } from '@/lib/domain/access/policy';
import { loadRelationship } from '@/lib/pipeline/relationship';
import type { Viewer } from '@/lib/domain/access/viewer';
import { recordAudit } from '@/lib/platform/audit';
import { confirmReauthentication } from '@/lib/features/credentials/reauth';
import { now as clockNow } from '@/lib/platform/clock';
import { getPatientCipher } from '@/lib/platform/crypto';
import { kickAlertDelivery, notifyPrivacyOfficers } from '@/lib/features/notify';
import { flagRepeatedUse } from '@/lib/features/break-glass/incident';
import { justificationSchema, reasonCodeSchema, reasonLabels } from '@/lib/domain/break-glass/justification';
import { getWindowMinutes } from '@/lib/features/break-glass/settings';

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

export type GrantResult =
  | { ok: true; grantId: string; patientId: string; expiresAt: Date; windowMinutes: number }
  | { ok: false; error: GrantError; message: string; fieldErrors?: Partial<Record<GrantField, string>> };

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
  reasonCode: reasonCodeSchema,
  justification: justificationSchema,
  secret: z
    .string({ error: 'Enter your password or authentication code.' })
    .min(1, 'Enter your password or authentication code.')
    .max(1024, 'Your password or authentication code was not accepted. Enter it again.'),
});
const patientIdSchema = z.string().uuid();

/** Failed step-up attempts per session before the prompt stops accepting secrets. */
const MAX_REAUTH_FAILURES = 5;
const REAUTH_FAILURE_WINDOW_MS = 15 * 60_000;
const ADVISORY_NAMESPACE = 'break_glass:';

/**
 * Grants a clinician outside the care team time-boxed access to one patient's chart. Every
 * refusal is audited with its reason (never the justification text), so forged posts from
 * roles without the permission show up in the trail. In order:
 * permission → patient exists → no relationship and no live grant → well-formed reason and
 * justification → step-up re-authentication → the grant, its audit entry, the privacy notice
 * and the repeated-use check, in one transaction. Alert delivery runs after, off the request.
 */
export async function requestGrant(viewer: Viewer, input: unknown, at = clockNow()): Promise<GrantResult> {
  const db = await getDb();
  const raw = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const patientId = patientIdSchema.safeParse(raw.patientId).success ? (raw.patientId as string) : null;
  const known = patientId
    ? (await db.select({ id: patients.id }).from(patients).where(eq(patients.id, patientId)).limit(1)).length > 0
    : false;
  const refuse = async (error: Exclude<GrantError, 'invalid'>, details: Record<string, unknown> = {}) => {
    await db.transaction((tx) => auditRefusal(tx, viewer, patientId, known, { reason: error, ...details }));
    return { ok: false as const, error, message: grantMessages[error] };
  };

  if (!canBreakGlass(viewer)) return refuse('not_permitted');
  if (!patientId || !known) return refuse('not_found');
  const relationship = await loadRelationship(db, viewer, patientId, at);
  if (relationship.careTeam) return refuse('has_access');
  if (relationship.breakGlassGrantId) return refuse('already_active', { activeGrantId: relationship.breakGlassGrantId });

  const parsed = requestSchema.safeParse(raw);
  if (!parsed.success) {
    const fieldErrors: Partial<Record<GrantField, string>> = {};
    for (const issue of parsed.error.issues) {
      const field = issue.path[0] as GrantField;
      fieldErrors[field] ??= issue.message;
    }
    await db.transaction((tx) => auditRefusal(tx, viewer, patientId, true, { reason: 'invalid', fields: Object.keys(fieldErrors).sort() }));
    const message = fieldErrors.reasonCode ?? fieldErrors.justification ?? fieldErrors.secret ?? 'Check the form and try again.';
    return { ok: false, error: 'invalid', message, fieldErrors };
  }

  if ((await recentReauthFailures(db, viewer.sessionId)) >= MAX_REAUTH_FAILURES) return refuse('too_many_attempts');
  if (!(await confirmReauthentication(viewer, parsed.data.secret, at))) {
    const refused = await refuse('reauth_failed');
    return { ...refused, fieldErrors: { secret: refused.message } };
  }

  const { reasonCode, justification } = parsed.data;
  const outcome = await db.transaction(async (tx): Promise<GrantResult> => {
    // One request at a time per user: two tabs posting at once cannot stack two grants.
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${ADVISORY_NAMESPACE + viewer.userId}))`);
    const again = await loadRelationship(tx, viewer, patientId, at);
    if (again.breakGlassGrantId) {
      await auditRefusal(tx, viewer, patientId, true, { reason: 'already_active', activeGrantId: again.breakGlassGrantId });
      return { ok: false, error: 'already_active', message: grantMessages.already_active };
    }
    const { cipher } = await getPatientCipher(tx, patientId);
    if (!cipher) {
      await auditRefusal(tx, viewer, patientId, true, { reason: 'unavailable' });
      return { ok: false, error: 'unavailable', message: grantMessages.unavailable };
    }
    const windowMinutes = await getWindowMinutes(tx);
    const grantId = randomUUID();
    const expiresAt = new Date(at.getTime() + windowMinutes * 60_000);
    await tx.insert(breakGlassGrants).values({
      id: grantId,
      userId: viewer.userId,
      patientId,
      sessionId: viewer.sessionId,
      reasonCode,
      sealedJustification: cipher.seal('break_glass_grants', 'sealed_justification', grantId, justification),
      grantedAt: at,
      expiresAt,
    });
    await recordAudit(tx, {
      actor: viewer,
      action: 'break_glass.grant',
      resourceType: 'break_glass_grant',
      resourceId: grantId,
      patientId,
      outcome: 'allowed',
      breakGlassGrantId: grantId,
      details: { reasonCode, windowMinutes, expiresAt: expiresAt.toISOString(), justificationLength: justification.length },
    });
    await notifyPrivacyOfficers(tx, {
      kind: 'break_glass.granted',
      message: `${viewer.displayName} used emergency access to a patient chart (${reasonLabels[reasonCode]}).`,
      link: `/admin/break-glass/${grantId}`,
    });
    await flagRepeatedUse(tx, viewer.userId, at);
    return { ok: true, grantId, patientId, expiresAt, windowMinutes };
  });
  if (outcome.ok) kickAlertDelivery();
  return outcome;
}

async function auditRefusal(tx: Tx, viewer: Viewer, patientId: string | null, known: boolean, details: Record<string, unknown>) {
  await recordAudit(tx, {
    actor: viewer,
    action: 'break_glass.request',
    resourceType: 'patient',
    resourceId: patientId,
    patientId: known ? patientId : null,
    outcome: 'denied',
    details,
  });
}

/**
 * Failed step-ups of this session lately, read from the audit trail that confirmReauthentication
 * writes. Audit timestamps are wall-clock, so the window is too.
 */
async function recentReauthFailures(q: Queryable, sessionId: string): Promise<number> {
  const [row] = await q
    .select({ n: count() })
    .from(auditLog)
    .where(
      and(
        eq(auditLog.actionType, 'auth.reauthenticate'),
        eq(auditLog.resourceId, sessionId),
        eq(auditLog.outcome, 'denied'),
        gt(auditLog.occurredAt, new Date(Date.now() - REAUTH_FAILURE_WINDOW_MS)),
      ),
    );
  return row?.n ?? 0;
}
