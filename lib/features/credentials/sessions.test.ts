import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, users } from '@/db/schema';
import { BROWSER, later, minutes, sessionRow, testDatabase, userRow, viewer as signIn } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { idleTimeoutMsFrom, sessionPolicy } from '@/lib/features/credentials/config';
import { checkSession, revokeSession, revokeUserSessions, sessionTiming } from '@/lib/features/credentials/sessions';
import { gateViewer, loginPathFor, mfaEnrolmentPending, resolveViewerState, safeReturnPath } from '@/lib/features/auth/viewer-state';

const T0 = new Date('2026-03-02T08:00:00Z');
const STAFF = 'staff03@vigil.test';
let handle: TestDatabase;

beforeAll(async () => {
  handle = await testDatabase();
});
afterAll(async () => {
  await handle?.close();
});

async function auditActions(sessionId: string): Promise<string[]> {
  const rows = await handle.db.select({ action: auditLog.actionType }).from(auditLog).where(eq(auditLog.resourceId, sessionId));
  return rows.map((r) => r.action);
}

describe('idle limit configuration', () => {
  it('is 15 minutes by default and may be shortened, never lengthened', () => {
    expect(idleTimeoutMsFrom(undefined)).toBe(minutes(15));
    expect(idleTimeoutMsFrom('10')).toBe(minutes(10));
    expect(idleTimeoutMsFrom('60')).toBe(minutes(15));
    expect(idleTimeoutMsFrom('0')).toBe(minutes(15));
    expect(idleTimeoutMsFrom('-5')).toBe(minutes(15));
    expect(idleTimeoutMsFrom('lots')).toBe(minutes(15));
    expect(sessionPolicy.idleTimeoutMs).toBeLessThanOrEqual(minutes(15));
  });
});

describe('checkSession: the server decides from sessions.last_seen_at', () => {
  it('accepts a session idle 14:59 and bumps last_seen_at', async () => {
    const viewer = await signIn(handle.db, STAFF, { at: T0, client: BROWSER });
    const at = later(T0, minutes(15) - 1_000);
    const check = await checkSession(handle.db, viewer.sessionId, at);
    expect(check.valid).toBe(true);
    expect((await sessionRow(handle.db, viewer.sessionId)).lastSeenAt).toEqual(at);
    // …and the bump restarts the idle clock: 14:59 after that is still fine.
    expect((await checkSession(handle.db, viewer.sessionId, later(at, minutes(15) - 1_000))).valid).toBe(true);
  });

  it('rejects a session idle 15:01, revokes it and audits session.timeout once', async () => {
    const viewer = await signIn(handle.db, STAFF, { at: T0, client: BROWSER });
    const at = later(T0, minutes(15) + 1_000);
    expect(await checkSession(handle.db, viewer.sessionId, at, { client: BROWSER })).toEqual({ valid: false, reason: 'idle', userId: viewer.userId });
    const row = await sessionRow(handle.db, viewer.sessionId);
    expect(row.revokedAt).toEqual(at);
    expect(row.revokedReason).toBe('idle_timeout');
    // Coming back later does not revive it, still says "timeout", and is not audited again.
    expect(await checkSession(handle.db, viewer.sessionId, later(at, 1_000))).toMatchObject({ valid: false, reason: 'idle' });
    expect(await auditActions(viewer.sessionId)).toEqual(['session.timeout']);
  });

  it('rejects a session older than 12 hours however active it was', async () => {
    const viewer = await signIn(handle.db, STAFF, { at: T0, client: BROWSER });
    for (let t = 10; t < 12 * 60; t += 10) {
      expect((await checkSession(handle.db, viewer.sessionId, later(T0, minutes(t)))).valid).toBe(true);
    }
    const check = await checkSession(handle.db, viewer.sessionId, later(T0, minutes(12 * 60)));
    expect(check).toMatchObject({ valid: false, reason: 'expired' });
    expect(await auditActions(viewer.sessionId)).toEqual(['session.expired']);
  });

  it('rejects a revoked session', async () => {
    const viewer = await signIn(handle.db, STAFF, { at: T0, client: BROWSER });
    expect(await revokeSession(handle.db, viewer.sessionId, 'sign_out', later(T0, 1_000))).toBe(true);
    expect(await revokeSession(handle.db, viewer.sessionId, 'sign_out', later(T0, 2_000))).toBe(false);
    expect(await checkSession(handle.db, viewer.sessionId, later(T0, 5_000))).toMatchObject({ valid: false, reason: 'revoked' });
  });

  it('rejects an unknown session id', async () => {
    expect(await checkSession(handle.db, '00000000-0000-4000-8000-000000000000', T0)).toEqual({ valid: false, reason: 'missing' });
  });

  it('rejects the sessions of a disabled user, and revokeUserSessions ends them all at once', async () => {
    const email = 'staff04@vigil.test';
    const a = await signIn(handle.db, email, { at: T0, client: BROWSER });
    const b = await signIn(handle.db, email, { at: T0, client: BROWSER });
    const user = await userRow(handle.db, email);
    await handle.db.update(users).set({ disabledAt: later(T0, 1_000) }).where(eq(users.id, user.id));
    expect(await checkSession(handle.db, a.sessionId, later(T0, 2_000))).toMatchObject({ valid: false, reason: 'disabled' });
    expect(await auditActions(a.sessionId)).toEqual(['session.revoked']);
    // What the admin "disable" does in its own transaction: every other session ends too.
    expect(await revokeUserSessions(handle.db, user.id, 'user_disabled', later(T0, 3_000))).toBe(1);
    expect(await checkSession(handle.db, b.sessionId, later(T0, 4_000))).toMatchObject({ valid: false, reason: 'disabled' });
    await handle.db.update(users).set({ disabledAt: null }).where(eq(users.id, user.id));
  });

  it('touches last_seen_at at most every 15 s, always on "Stay signed in", never on a peek', async () => {
    const viewer = await signIn(handle.db, STAFF, { at: T0, client: BROWSER });
    await checkSession(handle.db, viewer.sessionId, later(T0, 10_000));
    expect((await sessionRow(handle.db, viewer.sessionId)).lastSeenAt).toEqual(T0);
    await checkSession(handle.db, viewer.sessionId, later(T0, 11_000), { touch: 'always' });
    expect((await sessionRow(handle.db, viewer.sessionId)).lastSeenAt).toEqual(later(T0, 11_000));
    await checkSession(handle.db, viewer.sessionId, later(T0, minutes(5)), { touch: 'never' });
    expect((await sessionRow(handle.db, viewer.sessionId)).lastSeenAt).toEqual(later(T0, 11_000));
  });

  it('tells the browser the exact remaining time the server decides on', () => {
    const timing = sessionTiming({ lastSeenAt: T0, expiresAt: later(T0, minutes(12 * 60)) }, later(T0, minutes(10)));
    expect(timing).toEqual({ idleRemainingMs: minutes(5), absoluteRemainingMs: minutes(12 * 60 - 10), idleTimeoutMs: minutes(15), warningBeforeMs: minutes(2) });
  });
});

describe('resolveViewerState and the requireViewer decision', () => {
  it('builds the viewer with roles and the session timing', async () => {
    const viewer = await signIn(handle.db, STAFF, { at: T0, client: BROWSER });
    const state = await resolveViewerState(handle.db, viewer.sessionId, BROWSER, { at: later(T0, minutes(1)), requireMfa: false });
    expect(state.viewer).toMatchObject({ userId: viewer.userId, sessionId: viewer.sessionId, roles: ['physician'] });
    expect(state.viewer && state.session.idleRemainingMs).toBe(minutes(15));
    expect(gateViewer(state)).toEqual({ allow: true, viewer: state.viewer });
  });

  it('sends a signed-out, idle or revoked request to sign-in with the reason', async () => {
    expect(gateViewer(await resolveViewerState(handle.db, null, BROWSER))).toEqual({ allow: false, redirectTo: '/login' });
    expect(gateViewer(await resolveViewerState(handle.db, 'not-a-session-id', BROWSER))).toEqual({ allow: false, redirectTo: '/login' });
    const viewer = await signIn(handle.db, STAFF, { at: T0, client: BROWSER });
    const idle = await resolveViewerState(handle.db, viewer.sessionId, BROWSER, { at: later(T0, minutes(16)) });
    expect(gateViewer(idle)).toEqual({ allow: false, redirectTo: '/login?reason=timeout' });
    expect(loginPathFor('disabled')).toBe('/login?reason=disabled');
  });

  it('with MFA required, sends an account without TOTP to enrolment except where enrolment is allowed', async () => {
    const viewer = await signIn(handle.db, STAFF, { at: T0, client: BROWSER });
    const state = await resolveViewerState(handle.db, viewer.sessionId, BROWSER, { at: T0, requireMfa: true });
    expect(state.viewer && state.mfaEnrolmentPending).toBe(true);
    expect(gateViewer(state)).toEqual({ allow: false, redirectTo: '/account/mfa' });
    expect(gateViewer(state, { allowPendingMfa: true })).toMatchObject({ allow: true });
    expect(mfaEnrolmentPending({ totpEnabledAt: T0 }, true)).toBe(false);
    expect(mfaEnrolmentPending({ totpEnabledAt: null }, false)).toBe(false);
  });
});

describe('where a tab returns after its countdown, if the server says the session lives', () => {
  it('only ever to a path on this site, never to an API route', () => {
    expect(safeReturnPath('/patients/123?tab=notes')).toBe('/patients/123?tab=notes');
    for (const bad of [null, '', 'https://evil.test/', '//evil.test/x', '/\\evil.test', '/\t/evil.test', '/api/session/timeout', 'patients']) {
      expect(safeReturnPath(bad)).toBe('/');
    }
  });
});
