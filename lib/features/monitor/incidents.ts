import 'server-only';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Tx } from '@/db/client';
import { incidents, users } from '@/db/schema';
import { recordAudit } from '@/lib/platform/audit';
import { updateWithMac } from '@/lib/platform/integrity';
import { revokeUserSessions } from '@/lib/features/credentials/sessions';
import { now as clockNow } from '@/lib/platform/clock';
import { kickAlertDelivery, notifyPrivacyOfficers } from '@/lib/features/notify';
import { ruleLabel, severityRank, type Severity } from '@/lib/domain/monitor/rules';
import { auditActions } from '@/lib/domain/audit/actions';

export interface IncidentInput {
  userId: string;
  severity: Severity;
  /** A rule name (lib/domain/monitor/rules.ts ruleLabels, or another module's, e.g. repeated_break_glass). */
  rule: string;
  windowStart: Date;
  /** PHI-free evidence: counts, thresholds, ids. */
  details: Record<string, unknown>;
  at?: Date;
}

export interface IncidentOutcome {
  incidentId: string;
  /** A new case for this user, rule and window. */
  opened: boolean;
  /** An existing case raised to a higher severity (and reopened if it had been resolved). */
  escalated: boolean;
  /** The account was disabled and its sessions revoked by this call. */
  contained: boolean;
}

/** disabled_reason of accounts the monitor disabled; resolving the case may re-enable only these. */
export const MONITOR_DISABLE_PREFIX = 'Access monitoring case ';

const rankSql = (column: string) =>
  sql.raw(`CASE ${column} ${Object.entries(severityRank).map(([s, r]) => `WHEN '${s}' THEN ${r}`).join(' ')} ELSE 0 END`);

/**
 * Opens (or escalates) the one case for this user, rule and window, inside the caller's
 * transaction — for a PHI access, the transaction of its audit entry, so the case, the
 * containment and the access commit together. Every new or escalated case is audited
 * (`incident.open`); HIGH and CRITICAL notify privacy officers; CRITICAL disables the account
 * and revokes its sessions at once (`user.disable`). A repeat finding in a window that already
 * has a case at the same or a higher severity opens nothing: it refreshes the open case's
 * evidence (and adds its patient ids). Returns null in that case.
 */
export async function openIncident(tx: Tx, input: IncidentInput): Promise<IncidentOutcome | null> {
  const at = input.at ?? clockNow();
  const [row] = await tx
    .insert(incidents)
    .values({ userId: input.userId, severity: input.severity, rule: input.rule, details: input.details, windowStart: input.windowStart, createdAt: at })
    .onConflictDoUpdate({
      target: [incidents.userId, incidents.rule, incidents.windowStart],
      set: {
        severity: sql`excluded.severity`,
        details: sql`excluded.details`,
        status: 'open',
        resolvedBy: null,
        resolvedAt: null,
        sealedResolutionComment: null,
      },
      setWhere: sql`${rankSql('incidents.severity')} < ${rankSql('excluded.severity')}`,
    })
    .returning({ id: incidents.id, inserted: sql<boolean>`(xmax = 0)` });

  if (!row) {
    await refreshEvidence(tx, input);
    return null;
  }
  const opened = Boolean(row.inserted);
  await recordAudit(tx, {
    actor: { userId: null },
    action: opened ? auditActions.incident.open : auditActions.incident.escalate,
    resourceType: 'incident',
    resourceId: row.id,
    outcome: 'allowed',
    occurredAt: at,
    details: { rule: input.rule, severity: input.severity, subjectUserId: input.userId, windowStart: input.windowStart.toISOString() },
  });
  const contained = input.severity === 'CRITICAL' ? await containUser(tx, input.userId, row.id, input.rule, at) : false;
  if (severityRank[input.severity] >= severityRank.HIGH) {
    const [user] = await tx.select({ displayName: users.displayName }).from(users).where(eq(users.id, input.userId)).limit(1);
    const who = user?.displayName ?? 'A user';
    await notifyPrivacyOfficers(tx, {
      kind: 'incident.opened',
      message: contained
        ? `${who}'s account was disabled by access monitoring: ${ruleLabel(input.rule)} (${input.severity}).`
        : `Access monitoring opened a ${input.severity} case for ${who}: ${ruleLabel(input.rule)}.`,
      link: `/admin/incidents/${row.id}`,
    });
    deliverAfterCommit();
  }
  return { incidentId: row.id, opened, escalated: !opened, contained };
}

/**
 * The outbox row commits with the caller's transaction, which this module does not see end
 * (it may be an audit listener deep inside it), so the delivery worker is kicked a moment
 * later; a row not yet committed by then goes with the worker's next pass.
 */
const DELIVERY_KICK_DELAY_MS = 2_000;
function deliverAfterCommit(): void {
  setTimeout(kickAlertDelivery, DELIVERY_KICK_DELAY_MS).unref();
}

/**
 * Disables the account and revokes every session in the same transaction: the user's next
 * request fails checkSession (`disabled`), whichever app instance it reaches.
 */
async function containUser(tx: Tx, userId: string, incidentId: string, rule: string, at: Date): Promise<boolean> {
  const disabled = await updateWithMac(tx, 'users', and(eq(users.id, userId), isNull(users.disabledAt)), {
    disabledAt: at,
    disabledReason: `${MONITOR_DISABLE_PREFIX}${incidentId}: ${ruleLabel(rule)}`,
  });
  const sessionsRevoked = await revokeUserSessions(tx, userId, 'incident', at);
  await recordAudit(tx, {
    actor: { userId: null },
    action: auditActions.user.disable,
    resourceType: 'user',
    resourceId: userId,
    outcome: 'allowed',
    occurredAt: at,
    details: { reason: 'incident', incidentId, rule, sessionsRevoked, alreadyDisabled: disabled.length === 0 },
  });
  return disabled.length > 0 || sessionsRevoked > 0;
}

const MAX_EVIDENCE_IDS = 200;

/**
 * A repeat finding for a window whose open case is already at this severity or above: bring
 * its evidence up to date (latest counts) and add any new patient ids, keeping each id once.
 * A decided case is history and is left as it was.
 */
async function refreshEvidence(tx: Tx, input: IncidentInput): Promise<void> {
  const fresh = JSON.stringify(input.details);
  const ids = sql`coalesce(${incidents.details}->'patientIds', '[]'::jsonb) || coalesce(${fresh}::jsonb->'patientIds', '[]'::jsonb)`;
  await tx
    .update(incidents)
    .set({
      details: sql`(${incidents.details} || ${fresh}::jsonb) || jsonb_build_object('patientIds', (
        SELECT coalesce(jsonb_agg(id), '[]'::jsonb) FROM (SELECT DISTINCT id FROM jsonb_array_elements(${ids}) AS t(id) LIMIT ${MAX_EVIDENCE_IDS}) AS u
      ))`,
    })
    .where(
      and(
        eq(incidents.userId, input.userId),
        eq(incidents.rule, input.rule),
        eq(incidents.windowStart, input.windowStart),
        eq(incidents.status, 'open'),
      ),
    );
}
