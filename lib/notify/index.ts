import 'server-only';
import type { Queryable } from '@/db/client';
import { alertOutbox, notifications } from '@/db/schema';

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
 */
export async function notifyPrivacyOfficers(q: Queryable, notice: Notice): Promise<void> {
  await q.insert(notifications).values({ audienceRole: 'privacy_officer', kind: notice.kind, message: notice.message, link: notice.link ?? null });
  await q.insert(alertOutbox).values({ payload: { ...notice, audience: 'privacy_officer', createdAt: new Date().toISOString() } });
}
