import 'server-only';
import { and, count, desc, inArray, isNull } from 'drizzle-orm';
import { z } from 'zod';
import { getDb, type Queryable } from '@/db/client';
import { alertOutbox, notifications } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { now as clockNow } from '@/lib/platform/clock';
import { auditActions } from '@/lib/domain/audit/actions';
import { ok, type Result } from '@/lib/domain/result';
import { operation } from '@/lib/pipeline/operation';

export { kickAlertDelivery } from '@/lib/features/notify/worker';

export interface Notice {
  /** e.g. 'break_glass.granted', 'incident.opened' */
  kind: string;
  /** Plain, PHI-free text: who (staff name) and what happened, never patient details. */
  message: string;
  /** A portal path with ids only, e.g. /admin/break-glass/<grant-id>. */
  link?: string;
}

/**
 * Tells privacy officers at once: an in-app notice, plus an outbox row that the delivery
 * worker sends to the configured webhook/SMTP with retries. Writing both in the caller's
 * transaction means a notice is never lost, and delivery never blocks the clinician.
 * Callers kick the worker (`kickAlertDelivery()`) after their transaction commits.
 */
export async function notifyPrivacyOfficers(q: Queryable, notice: Notice): Promise<void> {
  await q.insert(notifications).values({ audienceRole: 'privacy_officer', kind: notice.kind, message: notice.message, link: notice.link ?? null });
  // Due "now" by the app's clock, the one the worker compares with (not the database's
  // microsecond now(), which can sort after a same-millisecond worker run).
  const at = clockNow();
  await q.insert(alertOutbox).values({ payload: { ...notice, audience: 'privacy_officer', createdAt: at.toISOString() }, nextAttemptAt: at });
}

/**
 * An outbox row and no in-app notice: a record that must leave the host (the signed audit
 * checkpoint), sent to the webhook/SMTP receivers like any alert, for no one to read in the portal.
 */
export async function queueOffHostRecord(q: Queryable, record: { kind: string; message: string }): Promise<void> {
  const at = clockNow();
  await q.insert(alertOutbox).values({ payload: { ...record, audience: 'privacy_officer', createdAt: at.toISOString() }, nextAttemptAt: at });
}

export interface NotificationView {
  id: string;
  kind: string;
  message: string;
  link: string | null;
  createdAt: string;
  read: boolean;
}

/** Notices for the roles the viewer holds, newest first. A notice is read for its whole audience once one holder marks it. */
export async function listNotifications(viewer: Viewer, limit = 50): Promise<NotificationView[]> {
  if (viewer.roles.length === 0) return [];
  const db = await getDb();
  const rows = await db
    .select()
    .from(notifications)
    .where(inArray(notifications.audienceRole, viewer.roles))
    .orderBy(desc(notifications.createdAt))
    .limit(Math.min(Math.max(1, limit), 200));
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    message: r.message,
    link: r.link,
    createdAt: r.createdAt.toISOString(),
    read: r.readAt !== null,
  }));
}

export async function countUnreadNotifications(viewer: Viewer): Promise<number> {
  if (viewer.roles.length === 0) return 0;
  const db = await getDb();
  const [row] = await db
    .select({ n: count() })
    .from(notifications)
    .where(and(inArray(notifications.audienceRole, viewer.roles), isNull(notifications.readAt)));
  return row?.n ?? 0;
}

/**
 * Marks the viewer's unread notices read. Any signed-in viewer may, for their own roles' notices
 * only; it is bookkeeping of their inbox (no patient data, no change to anyone's access), so the
 * trail records nothing.
 */
export const markNotificationsRead = operation({
  name: 'notify.mark-read',
  action: auditActions.notification.read,
  resourceType: 'notification',
  deniedMessage: 'You have no notifications.',
  input: z.undefined(),
  audits: 'refusals',
  run: async ({ tx, viewer, at }): Promise<Result<{ marked: number }>> => {
    if (viewer.roles.length === 0) return ok({ marked: 0 });
    const updated = await tx
      .update(notifications)
      .set({ readAt: at })
      .where(and(inArray(notifications.audienceRole, viewer.roles), isNull(notifications.readAt)))
      .returning({ id: notifications.id });
    return ok({ marked: updated.length });
  },
});

/** For the top bar: only roles that receive notices see a count. */
export function receivesNotifications(viewer: Viewer): boolean {
  return viewer.roles.includes('privacy_officer');
}

