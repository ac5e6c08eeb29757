import 'server-only';
import { desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { incidents, users } from '@/db/schema';
import { auditPermission } from '@/lib/domain/access/permission-names';
import { auditActions } from '@/lib/domain/audit/actions';
import type { Severity } from '@/lib/domain/monitor/rules';
import { ok, type Result } from '@/lib/domain/result';
import { deniedMessages, rank, subject, subjectColumns, summary, type CaseSummary, type SubjectUser } from '@/lib/features/monitor/case-rows';
import { operation } from '@/lib/pipeline/operation';

export interface QueueGroup {
  user: SubjectUser;
  cases: CaseSummary[];
  openCases: number;
  topSeverity: Severity;
}

export const queueFilters = ['open', 'all'] as const;
export type QueueFilter = (typeof queueFilters)[number];

const QUEUE_LIMIT = 500;

/**
 * The privacy officer's queue: cases grouped by the user they concern (one case per user,
 * rule and window), users with open cases first, most severe first. Called with the filter.
 * Staff names and rules, no PHI: only a refusal is audited.
 */
export const getIncidentQueue = operation({
  name: 'monitor.incident-queue',
  action: auditActions.incident.list,
  resourceType: 'incident',
  permission: { category: 'audit', name: auditPermission.viewIncidents },
  deniedMessage: deniedMessages.view,
  input: z.enum(queueFilters),
  audits: 'refusals',
  run: async ({ tx, input: filter }): Promise<Result<QueueGroup[]>> => {
    const rows = await tx
      .select({ incident: incidents, user: subjectColumns })
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
    return ok(
      [...groups.values()].sort(
        (a, b) => Number(b.openCases > 0) - Number(a.openCases > 0) || rank(b.topSeverity) - rank(a.topSeverity) || b.cases[0]!.createdAt.localeCompare(a.cases[0]!.createdAt),
      ),
    );
  },
});
