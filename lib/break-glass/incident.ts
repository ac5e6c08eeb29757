import 'server-only';
import { and, asc, desc, eq, gt } from 'drizzle-orm';
import type { Tx } from '@/db/client';
import { breakGlassGrants, incidents } from '@/db/schema';
import { recordAudit } from '@/lib/audit';
import { notifyPrivacyOfficers } from '@/lib/notify';

/** More than `maxGrants` grants by one user within `windowMs` is a case for the monitoring queue. */
export const repeatedUseRule = {
  rule: 'repeated_break_glass',
  severity: 'HIGH',
  maxGrants: 3,
  windowMs: 24 * 3_600_000,
} as const;

/**
 * Called in the transaction that made a grant. Opens one incident per burst: while an open
 * case for this user and rule from the last window exists, further grants update its evidence
 * instead of opening another. HIGH severity does not disable the account (lib/monitor's
 * CRITICAL rules do that); privacy officers are told either way.
 */
export async function flagRepeatedUse(
  tx: Tx,
  user: { userId: string; displayName: string },
  at: Date,
): Promise<{ incidentId: string; opened: boolean } | null> {
  const since = new Date(at.getTime() - repeatedUseRule.windowMs);
  const recent = await tx
    .select({ id: breakGlassGrants.id, grantedAt: breakGlassGrants.grantedAt })
    .from(breakGlassGrants)
    .where(and(eq(breakGlassGrants.userId, user.userId), gt(breakGlassGrants.grantedAt, since)))
    .orderBy(asc(breakGlassGrants.grantedAt));
  if (recent.length <= repeatedUseRule.maxGrants) return null;

  const details = {
    grants: recent.length,
    threshold: repeatedUseRule.maxGrants,
    windowHours: repeatedUseRule.windowMs / 3_600_000,
    grantIds: recent.map((g) => g.id),
  };
  const [open] = await tx
    .select({ id: incidents.id })
    .from(incidents)
    .where(
      and(
        eq(incidents.userId, user.userId),
        eq(incidents.rule, repeatedUseRule.rule),
        eq(incidents.status, 'open'),
        gt(incidents.windowStart, since),
      ),
    )
    .orderBy(desc(incidents.createdAt))
    .limit(1);
  if (open) {
    await tx.update(incidents).set({ details }).where(eq(incidents.id, open.id));
    return { incidentId: open.id, opened: false };
  }

  const [created] = await tx
    .insert(incidents)
    .values({
      userId: user.userId,
      severity: repeatedUseRule.severity,
      rule: repeatedUseRule.rule,
      details,
      windowStart: recent[0]!.grantedAt,
      createdAt: at,
    })
    .onConflictDoUpdate({ target: [incidents.userId, incidents.rule, incidents.windowStart], set: { details } })
    .returning({ id: incidents.id });
  await recordAudit(tx, {
    actor: { userId: null },
    action: 'incident.open',
    resourceType: 'incident',
    resourceId: created!.id,
    outcome: 'allowed',
    details: { rule: repeatedUseRule.rule, severity: repeatedUseRule.severity, subjectUserId: user.userId, grants: recent.length },
  });
  await notifyPrivacyOfficers(tx, {
    kind: 'incident.opened',
    message: `${user.displayName} has used emergency access ${recent.length} times in the last 24 hours.`,
    link: '/admin/incidents',
  });
  return { incidentId: created!.id, opened: true };
}
