import 'server-only';
import { and, count, eq, gt, gte, isNull, like, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable } from '@/db/client';
import { accessCounters, breakGlassGrants, incidents, users } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { readCheckpoint } from '@/lib/platform/audit/checkpoint';
import { describeVerification, verifyChain } from '@/lib/platform/audit/verify';
import { auditActions } from '@/lib/domain/audit/actions';
import { ok } from '@/lib/domain/result';
import { operation } from '@/lib/pipeline/operation';
import { MONITOR_DISABLE_PREFIX } from '@/lib/features/monitor/incidents';
import { HOUR_MS, hourStart, severityRank, type Severity } from '@/lib/domain/monitor/rules';
import type { HourPoint } from '@/lib/features/monitor/case-rows';

export interface AdminDashboard {
  /** Accesses and refusals by everyone, per hour, for the last 24 hours (oldest first). */
  accessesByHour: HourPoint[];
  breakGlass: { active: number; pendingReview: number };
  incidents: { open: number; bySeverity: Record<Severity, number>; disabledAccounts: number };
  chain: { ok: boolean; partial: boolean; summary: string; checked: number; fromCheckpoint: boolean };
  showIncidents: boolean;
}

/** Entries walked per dashboard load: enough to cover a checkpoint interval, cheap enough to render. */
const CHAIN_CHECK_LIMIT = 5_000;
const HOURS = 24;

/** Admins and privacy officers; every number is a count, nothing here is PHI. */
export function canViewDashboard(viewer: Pick<Viewer, 'permissions'>): boolean {
  return Boolean(viewer.permissions.admin?.length || viewer.permissions.audit?.length);
}

/**
 * The oversight dashboard. Any admin or audit permission opens it (no single permission names
 * "some oversight role"), so the check is the authorize step; a refusal is audited, a view is
 * not (counts only).
 */
export const getAdminDashboard = operation({
  name: 'monitor.dashboard',
  action: auditActions.incident.dashboard,
  resourceType: 'dashboard',
  deniedMessage: 'You do not have access to this page.',
  input: z.unknown(),
  audits: 'refusals',
  authorize: async ({ viewer }) => (canViewDashboard(viewer) ? { allowed: true, facts: undefined } : { allowed: false, reason: 'no_permission' }),
  run: async ({ tx, viewer, at }) => ok(await dashboardOf(tx, viewer, at)),
});

async function dashboardOf(db: Queryable, viewer: Viewer, at: Date): Promise<AdminDashboard> {
  const current = hourStart(at).getTime();
  const from = new Date(current - (HOURS - 1) * HOUR_MS);

  const hourly = await db
    .select({
      hour: accessCounters.hourStart,
      accesses: sql<number>`sum(${accessCounters.accesses})::int`,
      denials: sql<number>`sum(${accessCounters.denials})::int`,
    })
    .from(accessCounters)
    .where(gte(accessCounters.hourStart, from))
    .groupBy(accessCounters.hourStart);
  const byHour = new Map(hourly.map((h) => [h.hour.getTime(), h]));
  const accessesByHour: HourPoint[] = [];
  for (let t = from.getTime(); t <= current; t += HOUR_MS) {
    const h = byHour.get(t);
    accessesByHour.push({ hour: new Date(t).toISOString(), accesses: Number(h?.accesses ?? 0), denials: Number(h?.denials ?? 0) });
  }

  const [active] = await db
    .select({ n: count() })
    .from(breakGlassGrants)
    .where(and(gt(breakGlassGrants.expiresAt, at), isNull(breakGlassGrants.endedAt)));
  const [pending] = await db.select({ n: count() }).from(breakGlassGrants).where(eq(breakGlassGrants.reviewStatus, 'pending'));
  const open = await db
    .select({ severity: incidents.severity, n: count() })
    .from(incidents)
    .where(eq(incidents.status, 'open'))
    .groupBy(incidents.severity);
  const bySeverity: Record<Severity, number> = { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0 };
  for (const row of open) if (row.severity in severityRank) bySeverity[row.severity as Severity] = row.n;
  const [disabled] = await db.select({ n: count() }).from(users).where(like(users.disabledReason, `${MONITOR_DISABLE_PREFIX}%`));

  return {
    accessesByHour,
    breakGlass: { active: active?.n ?? 0, pendingReview: pending?.n ?? 0 },
    incidents: { open: open.reduce((s, r) => s + r.n, 0), bySeverity, disabledAccounts: disabled?.n ?? 0 },
    chain: await chainStatus(db),
    showIncidents: Boolean(viewer.permissions.audit?.length),
  };
}

/**
 * The chain walked from the last signed checkpoint (npm run audit:verify writes one) to the
 * head, at most CHAIN_CHECK_LIMIT entries per load; without a checkpoint, the first entries
 * from the genesis. A full walk stays with `npm run audit:verify` and /admin/audit.
 */
async function chainStatus(db: Queryable): Promise<AdminDashboard['chain']> {
  const read = readCheckpoint();
  if (read.status === 'invalid') {
    return { ok: false, partial: false, summary: 'The signed audit checkpoint is not valid: run npm run audit:verify.', checked: 0, fromCheckpoint: false };
  }
  const from = read.status === 'valid' ? read.checkpoint : undefined;
  const result = await verifyChain({ db, from, checkpoint: from, limit: CHAIN_CHECK_LIMIT });
  return { ok: result.ok, partial: result.partial, summary: describeVerification(result), checked: result.checked, fromCheckpoint: Boolean(from) };
}
