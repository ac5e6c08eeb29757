import 'server-only';
import { randomUUID } from 'node:crypto';
import { isUuid } from '@/lib/domain/ids';
import { and, desc, eq, gt, isNull, ne, sql } from 'drizzle-orm';
import { builtOnce } from '@/db/statements';
import type { Queryable } from '@/db/client';
import { breakGlassGrants, roles, sessions, userRoles, users } from '@/db/schema';
import { heldRolesOf, roleColumns, roleOrder, type HeldRole } from '@/lib/pipeline/actor';
import { recordAudit, type AuditActor } from '@/lib/platform/audit';
import { authorizationMac, intactRow, intactRows, updateWithMac, withMac } from '@/lib/platform/integrity';
import { now as clockNow } from '@/lib/platform/clock';
import { sessionPolicy } from '@/lib/features/credentials/config';
import { endGrantsOfSessions } from '@/lib/features/credentials/session-grants';
import { auditActions } from '@/lib/domain/audit/actions';

export type SessionRow = typeof sessions.$inferSelect;
export type SessionInvalidReason = 'missing' | 'revoked' | 'idle' | 'expired' | 'disabled';
export type SessionCheck =
  | { valid: true; session: SessionRow; user: typeof users.$inferSelect; roles: HeldRole[] }
  | { valid: false; reason: SessionInvalidReason; userId?: string };

/**
 * How a check treats last_seen_at: `throttled` for ordinary requests (written at most every
 * touchIntervalMs), `always` for an explicit "Stay signed in", `never` for a look that must not
 * count as activity (the browser asking whether its countdown really ran out).
 */
export type Touch = 'throttled' | 'always' | 'never';

export interface CheckOptions {
  touch?: Touch;
  /** Who asked, for the audit entry written when the check ends a session. */
  client?: Omit<AuditActor, 'userId'>;
}

export type SignInMethod = 'password' | 'totp' | 'recovery_code' | 'sso' | 'sso_mfa' | 'sso_totp';

/** A session the hospital's identity provider signed in, whose sign-out can continue there. */
export const signedInThroughIdp = (method: string): boolean => method.startsWith('sso');

/** A session id is a UUID; anything else is refused before it reaches a uuid column. */
export const isSessionId = (value: unknown): value is string => isUuid(value);

export async function createSession(
  q: Queryable,
  userId: string,
  client: { ip: string | null; userAgent: string | null },
  at = clockNow(),
  /** How the person proved who they are; an SSO session with the IdP's MFA needs no local enrolment. */
  signInMethod: SignInMethod = 'password',
): Promise<SessionRow> {
  const [row] = await q
    .insert(sessions)
    .values(
      withMac('sessions', {
        id: randomUUID(),
        userId,
        createdAt: at,
        lastSeenAt: at,
        reauthenticatedAt: at,
        // A sign-in with the local second factor proves it, which changing that factor relies on.
        factorVerifiedAt: signInMethod === 'totp' || signInMethod === 'recovery_code' || signInMethod === 'sso_totp' ? at : null,
        expiresAt: new Date(at.getTime() + sessionPolicy.absoluteLifetimeMs),
        revokedAt: null,
        ip: client.ip,
        userAgent: client.userAgent?.slice(0, 512) ?? null,
        signInMethod,
      }),
    )
    .returning();
  return row!;
}

/** Pure: is this session row usable at `at`? Exactly at the idle limit is still usable. */
export function sessionState(row: SessionRow, at: Date): SessionInvalidReason | 'active' {
  if (row.revokedAt) return revokedAs(row.revokedReason);
  if (at.getTime() >= row.expiresAt.getTime()) return 'expired';
  if (at.getTime() - row.lastSeenAt.getTime() > sessionPolicy.idleTimeoutMs) return 'idle';
  return 'active';
}

/** A session ended by a timeout keeps saying so, so the sign-in page can tell the user why. */
function revokedAs(reason: string | null): SessionInvalidReason {
  if (reason === REVOKE_REASON.idle) return 'idle';
  if (reason === REVOKE_REASON.expired) return 'expired';
  if (reason === REVOKE_REASON.disabled) return 'disabled';
  return 'revoked';
}

const REVOKE_REASON = { idle: 'idle_timeout', expired: 'expired', disabled: 'user_disabled' } as const;
const AUDIT_ACTION = { idle: auditActions.session.timeout, expired: auditActions.session.expired, disabled: auditActions.session.revoked } as const;

/** What the browser and server both need to know about a live session's remaining time. */
export interface SessionTiming {
  /** Until the idle limit, from the last_seen_at the server decides on. */
  idleRemainingMs: number;
  /** Until the absolute lifetime ends, which no activity extends. */
  absoluteRemainingMs: number;
  idleTimeoutMs: number;
  warningBeforeMs: number;
}

export function sessionTiming(row: Pick<SessionRow, 'lastSeenAt' | 'expiresAt'>, at: Date): SessionTiming {
  return {
    idleRemainingMs: Math.max(0, row.lastSeenAt.getTime() + sessionPolicy.idleTimeoutMs - at.getTime()),
    absoluteRemainingMs: Math.max(0, row.expiresAt.getTime() - at.getTime()),
    idleTimeoutMs: sessionPolicy.idleTimeoutMs,
    warningBeforeMs: sessionPolicy.warningBeforeMs,
  };
}

/** The session check's one statement, built once: it runs on every request. */
const sessionWithRoles = builtOnce('session_with_roles', (q) =>
  q
    .select({ session: sessions, user: users, role: roleColumns })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .leftJoin(userRoles, eq(userRoles.userId, users.id))
    .leftJoin(roles, eq(roles.name, userRoles.roleName))
    .where(eq(sessions.id, sql.placeholder('sessionId')))
    .orderBy(...roleOrder),
);

/**
 * The server-side check behind every authenticated request: the row must exist, be neither
 * revoked, idle past the limit nor past its absolute lifetime, and its user must be enabled.
 * A valid session is touched (see Touch); an idle, expired or disabled user's one is revoked on
 * the spot and the ending audited in the same transaction (once, by whichever request ends it).
 */
export async function checkSession(q: Queryable, sessionId: string, at = clockNow(), options: CheckOptions = {}): Promise<SessionCheck> {
  // One statement: the session, its user and the user's role rows (a row per role held), which
  // the caller checks (lib/pipeline/actor.ts actorOf) once the session is known to be good.
  const rows = await sessionWithRoles(q, { sessionId });
  const [found] = rows;
  // A session row that fails its MAC is no session; a user row that fails is a disabled user.
  if (!found || !(await intactRow(q, 'sessions', found.session))) return { valid: false, reason: 'missing' };
  const { session, user } = found;
  const state = sessionState(session, at);
  const disabled = user.disabledAt !== null || !(await intactRow(q, 'users', user));
  const ending = state === 'idle' || state === 'expired' ? state : state === 'active' && disabled ? 'disabled' : null;
  if (ending) {
    await endAndRecord(q, session, ending, at, { userId: user.id, ...options.client });
    return { valid: false, reason: ending, userId: user.id };
  }
  if (state !== 'active') return { valid: false, reason: state, userId: user.id };
  const touch = options.touch ?? 'throttled';
  if (touch === 'always' || (touch === 'throttled' && at.getTime() - session.lastSeenAt.getTime() >= sessionPolicy.touchIntervalMs)) {
    // Computed from the row just checked, and written only if the row is still that row: a
    // revocation committed in between keeps its own MAC instead of being overwritten by this one.
    const authMac = authorizationMac('sessions', { ...session, lastSeenAt: at });
    await q.update(sessions).set({ lastSeenAt: at, authMac }).where(and(eq(sessions.id, session.id), eq(sessions.authMac, session.authMac!)));
    session.lastSeenAt = at;
    session.authMac = authMac;
  }
  return { valid: true, session, user, roles: heldRolesOf(rows) };
}

/**
 * Who ended a session, for the entries of the break-glass grants that end with it (default: the
 * grant's holder). Every ending goes through the two functions below, which end those grants in
 * the same transaction (./session-grants.ts).
 */
export interface RevokeOptions {
  by?: AuditActor;
}

/** Ends one session and its live grants; true when this call ended it (false if it was already ended). */
export async function revokeSession(q: Queryable, sessionId: string, reason: string, at = clockNow(), options: RevokeOptions = {}): Promise<boolean> {
  return q.transaction(async (tx) => {
    const revoked = await updateWithMac(tx, 'sessions', and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)), { revokedAt: at, revokedReason: reason });
    await endGrantsOfSessions(tx, revoked.map((r) => r.id), reason, at, options.by);
    return revoked.length > 0;
  });
}

/** Ends every open session of a user and their live grants (disabling, "sign out everywhere", a changed factor). */
export async function revokeUserSessions(
  q: Queryable,
  userId: string,
  reason: string,
  at = clockNow(),
  options: { except?: string } & RevokeOptions = {},
): Promise<number> {
  return q.transaction(async (tx) => {
    const revoked = await updateWithMac(
      tx,
      'sessions',
      and(eq(sessions.userId, userId), isNull(sessions.revokedAt), options.except ? ne(sessions.id, options.except) : undefined),
      { revokedAt: at, revokedReason: reason },
    );
    await endGrantsOfSessions(tx, revoked.map((r) => r.id), reason, at, options.by);
    return revoked.length;
  });
}

/**
 * Ends the sessions that went idle or ran out without a request noticing (the browser was simply
 * closed), with their grants: run before the review queue is read, so it never shows as active a
 * grant whose session can no longer use it. Only sessions holding a live grant are looked at.
 */
export async function endLapsedGrantSessions(q: Queryable, at = clockNow()): Promise<number> {
  const candidates = await q
    .selectDistinct({ session: sessions })
    .from(sessions)
    .innerJoin(breakGlassGrants, eq(breakGlassGrants.sessionId, sessions.id))
    .where(and(isNull(sessions.revokedAt), isNull(breakGlassGrants.endedAt), gt(breakGlassGrants.expiresAt, at)));
  let ended = 0;
  for (const { session } of candidates) {
    const state = sessionState(session, at);
    if ((state === 'idle' || state === 'expired') && (await endAndRecord(q, session, state, at, { userId: session.userId }))) ended++;
  }
  return ended;
}

/** Ends a session a check found idle, expired or its user disabled, audited once (by whichever request ends it). */
async function endAndRecord(q: Queryable, session: SessionRow, ending: keyof typeof REVOKE_REASON, at: Date, actor: AuditActor): Promise<boolean> {
  return q.transaction(async (tx) => {
    if (!(await revokeSession(tx, session.id, REVOKE_REASON[ending], at))) return false;
    await recordAudit(tx, {
      actor,
      action: AUDIT_ACTION[ending],
      resourceType: 'session',
      resourceId: session.id,
      outcome: 'denied',
      details: { reason: REVOKE_REASON[ending], idleMs: at.getTime() - session.lastSeenAt.getTime() },
    });
    return true;
  });
}

/** A user's sessions that could still serve a request at `at`, newest activity first. */
export async function listOpenSessions(q: Queryable, userId: string, at = clockNow()): Promise<SessionRow[]> {
  const rows = await q
    .select()
    .from(sessions)
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, at)))
    .orderBy(desc(sessions.lastSeenAt));
  return (await intactRows(q, 'sessions', rows)).filter((row) => sessionState(row, at) === 'active');
}
