import 'server-only';
import { and, desc, eq, ne } from 'drizzle-orm';
import { z } from 'zod';
import { getDb, type Queryable, type Tx } from '@/db/client';
import { incidents, userRoles, users } from '@/db/schema';
import { hasAuditPermission } from '@/lib/domain/access/policy';
import type { Viewer } from '@/lib/domain/access/viewer';
import { recordAudit } from '@/lib/platform/audit';
import { now as clockNow } from '@/lib/platform/clock';
import { DecryptionError, openSystemField, sealSystemField, systemDigest } from '@/lib/platform/crypto';
import { getMonitorConfig } from '@/lib/features/monitor/config';
import { MONITOR_DISABLE_PREFIX } from '@/lib/features/monitor/incidents';
import { computeBaseline, loadHourCounts } from '@/lib/features/monitor/profile';
import { HOUR_MS, hourStart, ruleLabel, severityRank, volumeThreshold, type Severity } from '@/lib/domain/monitor/rules';

export interface CaseSummary {
  id: string;
  severity: Severity;
  rule: string;
  ruleLabel: string;
  windowStart: string;
  createdAt: string;
  status: string;
}

export interface SubjectUser {
  id: string;
  displayName: string;
  email: string;
  disabled: boolean;
  disabledByMonitor: boolean;
}

export interface QueueGroup {
  user: SubjectUser;
  cases: CaseSummary[];
  openCases: number;
  topSeverity: Severity;
}

export type QueueFilter = 'open' | 'all';
type Denied = { ok: false; error: 'denied' };

const QUEUE_LIMIT = 500;

/**
 * The privacy officer's queue: cases grouped by the user they concern (one case per user,
 * rule and window), users with open cases first, most severe first.
 */
export async function getIncidentQueue(viewer: Viewer, filter: QueueFilter): Promise<{ ok: true; groups: QueueGroup[] } | Denied> {
  const db = await getDb();
  if (!(await allowed(db, viewer, 'incidents.view', 'incident.list', null))) return { ok: false, error: 'denied' };
  const rows = await db
    .select({ incident: incidents, user: { id: users.id, displayName: users.displayName, email: users.email, disabledAt: users.disabledAt, disabledReason: users.disabledReason } })
    .from(incidents)
    .leftJoin(users, eq(users.id, incidents.userId))
    .where(filter === 'open' ? eq(incidents.status, 'open') : undefined)
    .orderBy(desc(incidents.createdAt))
    .limit(QUEUE_LIMIT);
  const groups = new Map<string, QueueGroup>();
  for (const { incident, user } of rows) {
    let group = groups.get(incident.userId);
    if (!group) groups.set(incident.userId, (group = { user: subject(incident.userId, user), cases: [], openCases: 0, topSeverity: 'LOW' }));
    group.cases.push(summary(incident));
    if (incident.status === 'open') {
      group.openCases += 1;
      if (rank(incident.severity) > rank(group.topSeverity)) group.topSeverity = incident.severity as Severity;
    }
  }
  const sorted = [...groups.values()].sort(
    (a, b) => Number(b.openCases > 0) - Number(a.openCases > 0) || rank(b.topSeverity) - rank(a.topSeverity) || b.cases[0]!.createdAt.localeCompare(a.cases[0]!.createdAt),
  );
  return { ok: true, groups: sorted };
}

export interface HourPoint {
  hour: string;
  accesses: number;
  denials: number;
}

export interface EvidenceItem {
  label: string;
  value: string;
}

/**
 * The comment a decision was recorded with. A reviewer may name a patient in it, so it is sealed
 * with the system key (an incident concerns a user, not one patient), bound to the incident.
 */
export type ResolutionComment =
  | { status: 'shown'; text: string }
  /** Would not open: damaged, moved from another case, or not sealed yet by the upgrade step. */
  | { status: 'unavailable' };

const COMMENT_TABLE = 'incidents';
const COMMENT_COLUMN = 'sealed_resolution_comment';
const COMMENT_DIGEST = 'incidents.resolution_comment';

export function sealResolutionComment(incidentId: string, comment: string): string {
  return sealSystemField(COMMENT_TABLE, COMMENT_COLUMN, incidentId, comment);
}

/** Null when the case has no comment (still open). */
export function openResolutionComment(incidentId: string, sealed: string | null): ResolutionComment | null {
  if (sealed === null) return null;
  try {
    return { status: 'shown', text: openSystemField(COMMENT_TABLE, COMMENT_COLUMN, incidentId, sealed) };
  } catch (error) {
    if (error instanceof DecryptionError) return { status: 'unavailable' };
    throw error;
  }
}

export interface IncidentCase {
  incident: CaseSummary & { resolvedAt: string | null; resolutionComment: ResolutionComment | null; resolvedBy: string | null };
  user: SubjectUser;
  evidence: EvidenceItem[];
  patientIds: string[];
  /** Hourly accesses around the window, and the baseline and threshold they are judged against. */
  series: HourPoint[];
  baseline: { value: number; mean: number; p90: number; source: 'user' | 'role'; activeHours: number };
  threshold: number;
  otherCases: CaseSummary[];
}

const SERIES_BEFORE_HOURS = 72;
const SERIES_AFTER_HOURS = 24;

/** One case with its evidence and the user's hourly access chart; the view is audited. */
export async function getIncidentCase(viewer: Viewer, incidentId: string, at = clockNow()): Promise<{ ok: true; value: IncidentCase } | Denied | { ok: false; error: 'not_found' }> {
  const db = await getDb();
  if (!(await allowed(db, viewer, 'incidents.view', 'incident.view', incidentId))) return { ok: false, error: 'denied' };
  if (!z.uuid().safeParse(incidentId).success) return { ok: false, error: 'not_found' };
  const [found] = await db
    .select({ incident: incidents, user: { id: users.id, displayName: users.displayName, email: users.email, disabledAt: users.disabledAt, disabledReason: users.disabledReason } })
    .from(incidents)
    .leftJoin(users, eq(users.id, incidents.userId))
    .where(eq(incidents.id, incidentId))
    .limit(1);
  if (!found) return { ok: false, error: 'not_found' };
  const { incident } = found;
  const config = await getMonitorConfig(db);
  const windowStart = incident.windowStart;

  const history = await loadHourCounts(db, incident.userId, new Date(windowStart.getTime() - config.lookbackDays * 24 * HOUR_MS), windowStart);
  const roles = (await db.select({ role: userRoles.roleName }).from(userRoles).where(eq(userRoles.userId, incident.userId))).map((r) => r.role);
  const baseline = computeBaseline(history, roles, config);
  const details = incident.details;
  const threshold = typeof details.threshold === 'number' && incident.rule === 'volume' ? details.threshold : volumeThreshold(baseline.value, config);

  const from = new Date(hourStart(windowStart).getTime() - SERIES_BEFORE_HOURS * HOUR_MS);
  const to = new Date(Math.min(hourStart(windowStart).getTime() + SERIES_AFTER_HOURS * HOUR_MS, hourStart(at).getTime() + HOUR_MS));
  const counts = await loadHourCounts(db, incident.userId, from, to);
  const byHour = new Map(counts.map((c) => [c.hourStart.getTime(), c]));
  const series: HourPoint[] = [];
  for (let t = from.getTime(); t < to.getTime(); t += HOUR_MS) {
    const c = byHour.get(t);
    series.push({ hour: new Date(t).toISOString(), accesses: c?.accesses ?? 0, denials: c?.denials ?? 0 });
  }

  const others = await db
    .select()
    .from(incidents)
    .where(and(eq(incidents.userId, incident.userId), ne(incidents.id, incident.id)))
    .orderBy(desc(incidents.createdAt))
    .limit(20);

  const patientIds = Array.isArray(details.patientIds) ? details.patientIds.filter((id): id is string => typeof id === 'string') : [];
  return {
    ok: true,
    value: {
      incident: {
        ...summary(incident),
        resolvedAt: incident.resolvedAt?.toISOString() ?? null,
        resolutionComment: openResolutionComment(incident.id, incident.sealedResolutionComment),
        resolvedBy: incident.resolvedBy ? await displayNameOf(db, incident.resolvedBy) : null,
      },
      user: subject(incident.userId, found.user),
      evidence: evidenceItems(details),
      patientIds,
      series,
      baseline: { value: baseline.value, mean: baseline.mean, p90: baseline.p90, source: baseline.source, activeHours: baseline.activeHours },
      threshold,
      otherCases: others.map(summary),
    },
  };
}

export const resolveIncidentSchema = z.object({
  incidentId: z.uuid({ error: 'This case could not be found.' }),
  decision: z.enum(['appropriate', 'confirmed'], { error: 'Choose “appropriate” or “confirm and refer”.' }),
  comment: z
    .string({ error: 'Write a comment explaining the decision.' })
    .trim()
    .min(10, 'Write a comment of at least 10 characters explaining the decision.')
    .max(2000, 'Keep the comment under 2,000 characters.'),
});

export type ResolveResult =
  | { ok: true; status: 'resolved_appropriate' | 'confirmed'; reEnabled: boolean; message: string }
  | { ok: false; error: 'denied' | 'invalid' | 'not_found' | 'already_resolved' | 'own_case'; message: string };

/**
 * A privacy officer's decision on a case. "Appropriate" closes it and re-enables an account
 * the monitor disabled, unless another open CRITICAL case still holds it (or someone else
 * disabled it for another reason). "Confirmed" closes it for referral and leaves the account
 * as it is. Nobody decides their own case. Every outcome, refusals included, is audited.
 */
export async function resolveIncident(viewer: Viewer, input: unknown, at = clockNow()): Promise<ResolveResult> {
  const db = await getDb();
  const rawId = typeof (input as { incidentId?: unknown })?.incidentId === 'string' ? (input as { incidentId: string }).incidentId : null;
  if (!(await allowed(db, viewer, 'incidents.resolve', 'incident.resolve', rawId))) {
    return { ok: false, error: 'denied', message: 'You do not have permission to decide incidents.' };
  }
  const parsed = resolveIncidentSchema.safeParse(input);
  if (!parsed.success) return { ok: false, error: 'invalid', message: parsed.error.issues[0]?.message ?? 'Check the form and try again.' };
  const { incidentId, decision, comment } = parsed.data;

  return db.transaction(async (tx): Promise<ResolveResult> => {
    const [incident] = await tx.select().from(incidents).where(eq(incidents.id, incidentId)).for('update').limit(1);
    if (!incident) return { ok: false, error: 'not_found', message: 'This case could not be found.' };
    const refuse = async (error: 'already_resolved' | 'own_case', message: string): Promise<ResolveResult> => {
      await recordAudit(tx, {
        actor: viewer,
        action: 'incident.resolve',
        resourceType: 'incident',
        resourceId: incidentId,
        outcome: 'denied',
        details: { reason: error, subjectUserId: incident.userId },
      });
      return { ok: false, error, message };
    };
    if (incident.userId === viewer.userId) return refuse('own_case', 'A case about your own account must be decided by another privacy officer.');
    if (incident.status !== 'open') return refuse('already_resolved', 'This case has already been decided.');

    const status = decision === 'appropriate' ? 'resolved_appropriate' : 'confirmed';
    await tx
      .update(incidents)
      .set({ status, resolvedBy: viewer.userId, resolvedAt: at, sealedResolutionComment: sealResolutionComment(incidentId, comment) })
      .where(eq(incidents.id, incidentId));
    await recordAudit(tx, {
      actor: viewer,
      action: 'incident.resolve',
      resourceType: 'incident',
      resourceId: incidentId,
      outcome: 'allowed',
      occurredAt: at,
      // The comment stays out of the log (free text); a keyed digest makes a later edit detectable
      // without letting anyone who reads the log confirm a guess at the text.
      details: { decision: status, rule: incident.rule, severity: incident.severity, subjectUserId: incident.userId, commentHmac: systemDigest(COMMENT_DIGEST, comment) },
    });
    const reEnabled = decision === 'appropriate' ? await reEnableIfHeldOnlyByMonitor(tx, viewer, incident.userId, incidentId, at) : false;
    const message =
      decision === 'confirmed'
        ? 'Case confirmed and referred. The account stays as it is.'
        : reEnabled
          ? 'Case resolved as appropriate. The account is enabled again.'
          : 'Case resolved as appropriate.';
    return { ok: true, status, reEnabled, message };
  });
}

async function reEnableIfHeldOnlyByMonitor(tx: Tx, viewer: Viewer, userId: string, incidentId: string, at: Date): Promise<boolean> {
  const [user] = await tx.select({ disabledAt: users.disabledAt, disabledReason: users.disabledReason }).from(users).where(eq(users.id, userId)).for('update').limit(1);
  if (!user?.disabledAt || !user.disabledReason?.startsWith(MONITOR_DISABLE_PREFIX)) return false;
  const [stillHeld] = await tx
    .select({ id: incidents.id })
    .from(incidents)
    .where(and(eq(incidents.userId, userId), eq(incidents.status, 'open'), eq(incidents.severity, 'CRITICAL')))
    .limit(1);
  if (stillHeld) return false;
  await tx.update(users).set({ disabledAt: null, disabledReason: null }).where(eq(users.id, userId));
  await recordAudit(tx, {
    actor: viewer,
    action: 'user.enable',
    resourceType: 'user',
    resourceId: userId,
    outcome: 'allowed',
    occurredAt: at,
    details: { reason: 'incident_resolved_appropriate', incidentId },
  });
  return true;
}

/** Checks a privacy-officer permission; a refusal is audited. */
async function allowed(db: Queryable, viewer: Viewer, permission: string, action: string, resourceId: string | null): Promise<boolean> {
  if (hasAuditPermission(viewer, permission)) {
    if (action === 'incident.view' && resourceId && z.uuid().safeParse(resourceId).success) {
      await db.transaction((tx) => recordAudit(tx, { actor: viewer, action, resourceType: 'incident', resourceId, outcome: 'allowed' }));
    }
    return true;
  }
  await db.transaction((tx) =>
    recordAudit(tx, {
      actor: viewer,
      action,
      resourceType: 'incident',
      resourceId: resourceId && z.uuid().safeParse(resourceId).success ? resourceId : null,
      outcome: 'denied',
      details: { reason: 'no_permission' },
    }),
  );
  return false;
}

const rank = (severity: string) => severityRank[severity as Severity] ?? 0;

function summary(incident: typeof incidents.$inferSelect): CaseSummary {
  return {
    id: incident.id,
    severity: incident.severity as Severity,
    rule: incident.rule,
    ruleLabel: ruleLabel(incident.rule),
    windowStart: incident.windowStart.toISOString(),
    createdAt: incident.createdAt.toISOString(),
    status: incident.status,
  };
}

function subject(
  userId: string,
  user: { id: string; displayName: string; email: string; disabledAt: Date | null; disabledReason: string | null } | null,
): SubjectUser {
  return {
    id: userId,
    displayName: user?.displayName ?? 'Unknown user',
    email: user?.email ?? '',
    disabled: Boolean(user?.disabledAt),
    disabledByMonitor: Boolean(user?.disabledAt && user.disabledReason?.startsWith(MONITOR_DISABLE_PREFIX)),
  };
}

async function displayNameOf(q: Queryable, userId: string): Promise<string> {
  const [user] = await q.select({ displayName: users.displayName }).from(users).where(eq(users.id, userId)).limit(1);
  return user?.displayName ?? 'Unknown user';
}

/** Labels for the evidence the rules record; ids go to their own list, unknown keys are shown as-is. */
const evidenceLabels: Record<string, string> = {
  accessesThisHour: 'Accesses this hour',
  accessesPreviousHour: 'Accesses the hour before',
  lastHourEstimate: 'Accesses in the last 60 minutes (estimate)',
  baseline: 'Baseline (typical busy hour)',
  baselineSource: 'Baseline from',
  threshold: 'Threshold',
  multiplier: 'Multiplier',
  floor: 'Minimum threshold',
  denials: 'Refused requests',
  windowMinutes: 'Window (minutes)',
  highAt: 'HIGH at',
  criticalAt: 'CRITICAL at',
  distinctPatients: 'Distinct patients outside the care team',
  localHour: 'Local hour',
  timeZone: 'Time zone',
  nightHours: 'Night hours',
  activeHoursInLookback: 'Active hours in the last weeks',
  nightHoursInLookback: 'Night hours in the last weeks',
  comparedBy: 'Compared by',
  falseMatchOneIn: 'Chance of an accidental match (1 in)',
  grants: 'Emergency-access grants',
  windowHours: 'Window (hours)',
};
const hiddenEvidence = new Set(['patientIds', 'grantIds']);

const evidenceOrder = Object.keys(evidenceLabels);
const orderOf = (key: string) => (evidenceOrder.includes(key) ? evidenceOrder.indexOf(key) : evidenceOrder.length);

/** In the rules' own order (jsonb returns keys sorted by length), known labels first. */
function evidenceItems(details: Record<string, unknown>): EvidenceItem[] {
  return Object.entries(details)
    .filter(([key, value]) => !hiddenEvidence.has(key) && value !== null && typeof value !== 'object')
    .sort(([a], [b]) => orderOf(a) - orderOf(b))
    .map(([key, value]) => ({
      label: evidenceLabels[key] ?? key,
      value: key === 'baselineSource' ? (value === 'role' ? 'the role’s default (new user)' : 'the user’s own history') : String(value),
    }));
}

