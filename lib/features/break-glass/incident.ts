import 'server-only';
import { and, asc, eq, gt } from 'drizzle-orm';
import type { Tx } from '@/db/client';
import { breakGlassGrants } from '@/db/schema';
import { openIncident, type IncidentOutcome } from '@/lib/features/monitor';
import { dayStart } from '@/lib/domain/monitor/rules';

/** More than `maxGrants` grants by one user within `windowMs` is a case for the monitoring queue. */
export const repeatedUseRule = {
  rule: 'repeated_break_glass',
  severity: 'HIGH',
  maxGrants: 3,
  windowMs: 24 * 3_600_000,
} as const;

/**
 * Called in the transaction that made a grant. The case is opened through lib/features/monitor, so it
 * is audited (`incident.open`), announced to privacy officers and shown in the incident queue
 * like every other rule's; one case per user and UTC day (lib/features/monitor dedupes on the window
 * start), later grants that day adding their patients to its evidence. HIGH does not disable
 * the account: emergency access may be legitimate, so a person decides.
 */
export async function flagRepeatedUse(tx: Tx, userId: string, at: Date): Promise<IncidentOutcome | null> {
  const since = new Date(at.getTime() - repeatedUseRule.windowMs);
  const recent = await tx
    .select({ id: breakGlassGrants.id, patientId: breakGlassGrants.patientId })
    .from(breakGlassGrants)
    .where(and(eq(breakGlassGrants.userId, userId), gt(breakGlassGrants.grantedAt, since)))
    .orderBy(asc(breakGlassGrants.grantedAt));
  if (recent.length <= repeatedUseRule.maxGrants) return null;
  return openIncident(tx, {
    userId,
    severity: repeatedUseRule.severity,
    rule: repeatedUseRule.rule,
    windowStart: dayStart(at),
    details: {
      grants: recent.length,
      threshold: repeatedUseRule.maxGrants,
      windowHours: repeatedUseRule.windowMs / 3_600_000,
      grantIds: recent.map((g) => g.id),
      patientIds: [...new Set(recent.map((g) => g.patientId))],
    },
    at,
  });
}
