import 'server-only';
import { and, count, desc, eq, inArray, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable } from '@/db/client';
import { auditLog, breakGlassGrants, users } from '@/db/schema';
import { auditActions } from '@/lib/domain/audit/actions';
import { ok, type Result } from '@/lib/domain/result';
import { grantRow, reviewMessages, reviewPermission, staffColumns, toItem, type ReviewQueueItem, type StaffRef } from '@/lib/features/break-glass/review-rows';
import { operation } from '@/lib/pipeline/operation';
import { endLapsedGrantSessions } from '@/lib/features/credentials/sessions';
import { checkedRows } from '@/lib/platform/integrity';

export interface RefusedRequest {
  seq: number;
  occurredAt: string;
  user: StaffRef | null;
  patientId: string | null;
  reason: string;
}

/** `{ limit }` of a list, or nothing for the page's usual length; always within 1..max. */
const listLength = (fallback: number, max: number) =>
  z
    .object({ limit: z.number().int().optional() })
    .optional()
    .transform((raw) => Math.min(Math.max(1, raw?.limit ?? fallback), max));

async function activityCounts(q: Queryable, grantIds: string[]): Promise<Map<string, number>> {
  if (grantIds.length === 0) return new Map();
  const rows = await q
    .select({ grantId: auditLog.breakGlassGrantId, n: count() })
    .from(auditLog)
    .where(inArray(auditLog.breakGlassGrantId, grantIds))
    .groupBy(auditLog.breakGlassGrantId);
  return new Map(rows.map((r) => [r.grantId!, r.n]));
}

/**
 * The privacy officers' queue: grants whose stored row was altered outside Vigil first, then
 * grants awaiting a verdict (oldest first, so nothing waits forever), then reviewed ones, newest
 * first. No PHI, so only a refusal is audited.
 */
export const listReviewQueue = operation({
  name: 'break-glass.review-queue',
  action: auditActions.breakGlass.queueView,
  resourceType: 'break_glass_grant',
  permission: reviewPermission,
  deniedMessage: reviewMessages.denied,
  input: listLength(100, 500),
  audits: 'refusals',
  run: async ({ tx, input: limit, at }): Promise<Result<ReviewQueueItem[]>> => {
    // A grant whose session went idle or ran out unnoticed (the browser closed) ends now, so the
    // queue never calls "active" a grant nobody can use any more.
    await endLapsedGrantSessions(tx, at);
    const rows = await tx
      .select(grantRow)
      .from(breakGlassGrants)
      .innerJoin(users, eq(users.id, breakGlassGrants.userId))
      .orderBy(
        sql`CASE WHEN ${breakGlassGrants.reviewStatus} = 'pending' THEN 0 ELSE 1 END`,
        sql`CASE WHEN ${breakGlassGrants.reviewStatus} = 'pending' THEN ${breakGlassGrants.grantedAt} END ASC`,
        desc(breakGlassGrants.grantedAt),
      )
      .limit(limit);
    const counts = await activityCounts(tx, rows.map((r) => r.grant.id));
    const tampered = new Set((await checkedRows(tx, 'break_glass_grants', rows.map((r) => r.grant))).filter((c) => !c.intact).map((c) => c.row.id));
    const items = rows.map((r) => toItem(r, counts.get(r.grant.id) ?? 0, at, !tampered.has(r.grant.id)));
    return ok([...items.filter((item) => item.tampered), ...items.filter((item) => !item.tampered)]);
  },
});

/**
 * Refused emergency-access requests (wrong role, bad justification, failed step-up), newest
 * first, shown beside the queue: a refusal is audited as an attempt on the queue.
 */
export const listRefusedRequests = operation({
  name: 'break-glass.refused-requests',
  action: auditActions.breakGlass.queueView,
  resourceType: 'break_glass_grant',
  permission: reviewPermission,
  deniedMessage: reviewMessages.denied,
  input: listLength(20, 200),
  audits: 'refusals',
  run: async ({ tx, input: limit }): Promise<Result<RefusedRequest[]>> => {
    const rows = await tx
      .select({ entry: auditLog, user: staffColumns })
      .from(auditLog)
      .leftJoin(users, eq(users.id, auditLog.userId))
      .where(and(eq(auditLog.actionType, auditActions.breakGlass.request), eq(auditLog.outcome, 'denied')))
      .orderBy(desc(auditLog.seq))
      .limit(limit);
    return ok(
      rows.map(({ entry, user }) => ({
        seq: entry.seq,
        occurredAt: entry.occurredAt.toISOString(),
        user,
        patientId: entry.resourceId,
        reason: typeof entry.details?.reason === 'string' ? entry.details.reason : 'unknown',
      })),
    );
  },
});
