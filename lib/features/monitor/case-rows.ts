import 'server-only';
import { incidents, users } from '@/db/schema';
import { isUuid } from '@/lib/domain/ids';
import { ruleLabel, severityRank, type Severity } from '@/lib/domain/monitor/rules';
import { MONITOR_DISABLE_PREFIX } from '@/lib/features/monitor/incidents';

/** What the incident pages share: a case's one-line summary and the person it concerns. */

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

export interface HourPoint {
  hour: string;
  accesses: number;
  denials: number;
}

export const deniedMessages = {
  view: 'You do not have access to this page.',
  resolve: 'You do not have permission to decide incidents.',
} as const;

/** The columns of the user a case concerns. */
export const subjectColumns = { id: users.id, displayName: users.displayName, email: users.email, disabledAt: users.disabledAt, disabledReason: users.disabledReason };

/** The case id a raw request names, kept in refusal entries only if it has a uuid's shape. */
export function caseTarget(raw: unknown): string | null {
  const id = typeof raw === 'string' ? raw : (raw as { incidentId?: unknown } | null)?.incidentId;
  return typeof id === 'string' && isUuid(id) ? id : null;
}

export const rank = (severity: string) => severityRank[severity as Severity] ?? 0;

export function summary(incident: typeof incidents.$inferSelect): CaseSummary {
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

export function subject(
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
