import 'server-only';
import { getDb } from '@/db/client';
import type { Viewer } from '@/lib/domain/access/viewer';
import { recordAudit } from '@/lib/platform/audit';
import { now as clockNow } from '@/lib/platform/clock';
import { listOpenSessions, revokeUserSessions } from '@/lib/features/credentials/sessions';

/** One of the viewer's own sessions, as the account page lists it. */
export interface OwnSession {
  id: string;
  current: boolean;
  createdAt: Date;
  lastSeenAt: Date;
  ip: string | null;
  browser: string;
}

/** A short browser and system name from a user agent ("Chrome on Linux"); never the raw string. */
export function describeUserAgent(userAgent: string | null): string {
  if (!userAgent) return 'Unknown browser';
  const browser = /Edg\//.test(userAgent)
    ? 'Edge'
    : /Firefox\//.test(userAgent)
      ? 'Firefox'
      : /Chrom(e|ium)\//.test(userAgent)
        ? 'Chrome'
        : /Safari\//.test(userAgent)
          ? 'Safari'
          : 'Other browser';
  const system = /Windows/.test(userAgent)
    ? 'Windows'
    : /Android/.test(userAgent)
      ? 'Android'
      : /iPhone|iPad/.test(userAgent)
        ? 'iOS'
        : /Mac OS X/.test(userAgent)
          ? 'macOS'
          : /Linux/.test(userAgent)
            ? 'Linux'
            : null;
  return system ? `${browser} on ${system}` : browser;
}

/** The viewer's sessions that are still open (not ended, not idle, not expired). */
export async function listOwnSessions(viewer: Viewer, at = clockNow()): Promise<OwnSession[]> {
  const rows = await listOpenSessions(await getDb(), viewer.userId, at);
  return rows.map((row) => ({
    id: row.id,
    current: row.id === viewer.sessionId,
    createdAt: row.createdAt,
    lastSeenAt: row.lastSeenAt,
    ip: row.ip,
    browser: describeUserAgent(row.userAgent),
  }));
}

/** "Sign out everywhere": ends every session of the viewer, this one included. */
export async function signOutEverywhere(viewer: Viewer, at = clockNow()): Promise<number> {
  const db = await getDb();
  return db.transaction(async (tx) => {
    const ended = await revokeUserSessions(tx, viewer.userId, 'signed_out_everywhere', at);
    await recordAudit(tx, {
      actor: viewer,
      action: 'auth.logout_everywhere',
      resourceType: 'session',
      resourceId: viewer.sessionId,
      outcome: 'allowed',
      details: { sessionsEnded: ended },
    });
    return ended;
  });
}
