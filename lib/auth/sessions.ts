import 'server-only';
import { and, eq, isNull } from 'drizzle-orm';
import type { Queryable } from '@/db/client';
import { sessions, users } from '@/db/schema';
import { now as clockNow } from '@/lib/clock';
import { sessionPolicy } from './config';

export type SessionRow = typeof sessions.$inferSelect;
export type SessionInvalidReason = 'missing' | 'revoked' | 'idle' | 'expired' | 'disabled';
export type SessionCheck =
  | { valid: true; session: SessionRow; user: typeof users.$inferSelect }
  | { valid: false; reason: SessionInvalidReason; userId?: string };

export async function createSession(
  q: Queryable,
  userId: string,
  client: { ip: string | null; userAgent: string | null },
  at = clockNow(),
): Promise<SessionRow> {
  const [row] = await q
    .insert(sessions)
    .values({
      userId,
      createdAt: at,
      lastSeenAt: at,
      reauthenticatedAt: at,
      expiresAt: new Date(at.getTime() + sessionPolicy.absoluteLifetimeMs),
      ip: client.ip,
      userAgent: client.userAgent?.slice(0, 512) ?? null,
    })
    .returning();
  return row!;
}

/** Pure: is this session row usable at `at`? */
export function sessionState(row: SessionRow, at: Date): SessionInvalidReason | 'active' {
  if (row.revokedAt) return 'revoked';
  if (at.getTime() >= row.expiresAt.getTime()) return 'expired';
  if (at.getTime() - row.lastSeenAt.getTime() > sessionPolicy.idleTimeoutMs) return 'idle';
  return 'active';
}

/**
 * The server-side check behind every authenticated request: the row must exist, be neither
 * revoked, idle past the limit nor past its absolute lifetime, and its user must be enabled.
 * A valid session is touched (throttled); an idle or expired one is revoked on the spot.
 */
export async function checkSession(q: Queryable, sessionId: string, at = clockNow()): Promise<SessionCheck> {
  const [found] = await q
    .select({ session: sessions, user: users })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.id, sessionId))
    .limit(1);
  if (!found) return { valid: false, reason: 'missing' };
  const { session, user } = found;
  const state = sessionState(session, at);
  if (state !== 'active') {
    if (state !== 'revoked') await revokeSession(q, session.id, state === 'idle' ? 'idle_timeout' : 'expired', at);
    return { valid: false, reason: state, userId: user.id };
  }
  if (user.disabledAt) {
    await revokeSession(q, session.id, 'user_disabled', at);
    return { valid: false, reason: 'disabled', userId: user.id };
  }
  if (at.getTime() - session.lastSeenAt.getTime() >= sessionPolicy.touchIntervalMs) {
    await q.update(sessions).set({ lastSeenAt: at }).where(eq(sessions.id, session.id));
    session.lastSeenAt = at;
  }
  return { valid: true, session, user };
}

export async function revokeSession(q: Queryable, sessionId: string, reason: string, at = clockNow()): Promise<void> {
  await q
    .update(sessions)
    .set({ revokedAt: at, revokedReason: reason })
    .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)));
}

export async function revokeUserSessions(q: Queryable, userId: string, reason: string, at = clockNow()): Promise<number> {
  const revoked = await q
    .update(sessions)
    .set({ revokedAt: at, revokedReason: reason })
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)))
    .returning({ id: sessions.id });
  return revoked.length;
}
