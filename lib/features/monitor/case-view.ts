import 'server-only';
import { and, desc, eq, ne } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable } from '@/db/client';
import { incidents, users } from '@/db/schema';
import { heldRoleNames } from '@/lib/platform/integrity';
import { auditPermission } from '@/lib/domain/access/permission-names';
import { auditActions } from '@/lib/domain/audit/actions';
import { HOUR_MS, hourStart, volumeThreshold } from '@/lib/domain/monitor/rules';
import { fail, ok, type Result } from '@/lib/domain/result';
import { caseTarget, deniedMessages, subject, subjectColumns, summary, type CaseSummary, type HourPoint, type SubjectUser } from '@/lib/features/monitor/case-rows';
import { getMonitorConfig } from '@/lib/features/monitor/config';
import { computeBaseline, loadHourCounts } from '@/lib/features/monitor/profile';
import { openResolutionComment, type ResolutionComment } from '@/lib/features/monitor/resolution-comment';
import { operation } from '@/lib/pipeline/operation';

export interface EvidenceItem {
  label: string;
  value: string;
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
const notFound = 'This case could not be found.';

/** One case with its evidence and the user's hourly access chart; the view is audited. Called with the case id. */
export const getIncidentCase = operation({
  name: 'monitor.incident-case',
  action: auditActions.incident.view,
  resourceType: 'incident',
  permission: { category: 'audit', name: auditPermission.viewIncidents },
  deniedMessage: deniedMessages.view,
  target: caseTarget,
  input: z.uuid(),
  invalid: () => fail('not_found', notFound),
  run: async ({ tx, input: incidentId, at, audit }): Promise<Result<IncidentCase, 'not_found'>> => {
    // The look is recorded as soon as it is allowed, as the trail has always shown it.
    await audit({ resourceId: incidentId });
    const [found] = await tx
      .select({ incident: incidents, user: subjectColumns })
      .from(incidents)
      .leftJoin(users, eq(users.id, incidents.userId))
      .where(eq(incidents.id, incidentId))
      .limit(1);
    if (!found) return fail('not_found', notFound);
    const { incident } = found;
    const config = await getMonitorConfig(tx);
    const windowStart = incident.windowStart;

    const history = await loadHourCounts(tx, incident.userId, new Date(windowStart.getTime() - config.lookbackDays * 24 * HOUR_MS), windowStart);
    const roles = await heldRoleNames(tx, incident.userId);
    const baseline = computeBaseline(history, roles, config);
    const details = incident.details;
    const threshold = typeof details.threshold === 'number' && incident.rule === 'volume' ? details.threshold : volumeThreshold(baseline.value, config);

    const from = new Date(hourStart(windowStart).getTime() - SERIES_BEFORE_HOURS * HOUR_MS);
    const to = new Date(Math.min(hourStart(windowStart).getTime() + SERIES_AFTER_HOURS * HOUR_MS, hourStart(at).getTime() + HOUR_MS));
    const counts = await loadHourCounts(tx, incident.userId, from, to);
    const byHour = new Map(counts.map((c) => [c.hourStart.getTime(), c]));
    const series: HourPoint[] = [];
    for (let t = from.getTime(); t < to.getTime(); t += HOUR_MS) {
      const c = byHour.get(t);
      series.push({ hour: new Date(t).toISOString(), accesses: c?.accesses ?? 0, denials: c?.denials ?? 0 });
    }

    const others = await tx
      .select()
      .from(incidents)
      .where(and(eq(incidents.userId, incident.userId), ne(incidents.id, incident.id)))
      .orderBy(desc(incidents.createdAt))
      .limit(20);

    const patientIds = Array.isArray(details.patientIds) ? details.patientIds.filter((id): id is string => typeof id === 'string') : [];
    return ok({
      incident: {
        ...summary(incident),
        resolvedAt: incident.resolvedAt?.toISOString() ?? null,
        resolutionComment: openResolutionComment(incident.id, incident.sealedResolutionComment),
        resolvedBy: incident.resolvedBy ? await displayNameOf(tx, incident.resolvedBy) : null,
      },
      user: subject(incident.userId, found.user),
      evidence: evidenceItems(details),
      patientIds,
      series,
      baseline: { value: baseline.value, mean: baseline.mean, p90: baseline.p90, source: baseline.source, activeHours: baseline.activeHours },
      threshold,
      otherCases: others.map(summary),
    });
  },
});

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
