import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, breakGlassGrants, patients, sessions } from '@/db/schema';
import { endSessionById } from '@/lib/features/auth/sign-out';
import { withoutSessionId } from '@/lib/features/auth/session-route';
import { listReviewQueue } from '@/lib/features/break-glass';
import { checkSession, revokeUserSessions } from '@/lib/features/credentials/sessions';
import { sessionPolicy } from '@/lib/features/credentials/config';
import { now } from '@/lib/platform/clock';
import { withMac } from '@/lib/platform/integrity';
import { later, minutes, sessionRow, testDatabase, viewer as signIn } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';

/**
 * The loose ends of sessions: every way a session ends takes its break-glass grants with it, the
 * Auth.js sign-out route ends the row (not only the cookie), and the session route never hands
 * scripts the session id.
 */
const T0 = new Date('2026-03-06T08:00:00Z');
let handle: TestDatabase;
let patientId: string;

beforeAll(async () => {
  handle = await testDatabase({ patients: 4 });
  [{ id: patientId }] = (await handle.db.select({ id: patients.id }).from(patients).limit(1)) as [{ id: string }];
});
afterAll(async () => {
  await handle?.close();
});

/** A live grant made in this session, as lib/features/break-glass/request.ts would write it. */
async function grantIn(session: { userId: string; sessionId: string }, at: Date) {
  const [grant] = await handle.db
    .insert(breakGlassGrants)
    .values(
      withMac('break_glass_grants', {
        id: randomUUID(),
        userId: session.userId,
        patientId,
        sessionId: session.sessionId,
        reasonCode: 'emergency_treatment',
        sealedJustification: 'sealed',
        grantedAt: at,
        expiresAt: later(at, minutes(60)),
        endedAt: null,
        reviewStatus: 'pending',
        reviewerId: null,
        reviewedAt: null,
      }),
    )
    .returning();
  return grant!;
}
const grantNow = async (id: string) => (await handle.db.select().from(breakGlassGrants).where(eq(breakGlassGrants.id, id)))[0]!;

describe('a session that ends takes its break-glass grants with it', () => {
  it('an idle session nobody came back to: the review queue ends it and shows the grant ended, not active', async () => {
    const clinician = await signIn(handle.db, 'physician2@vigil.test', { at: T0 });
    const grant = await grantIn(clinician, T0);
    const privacy = await signIn(handle.db, 'privacy@vigil.test', { at: later(T0, minutes(30)) });
    const at = later(T0, sessionPolicy.idleTimeoutMs + minutes(1));
    const queue = await listReviewQueue(privacy, {}, at);
    if (!queue.ok) throw new Error(queue.error);
    expect(queue.value.find((item) => item.grantId === grant.id)).toMatchObject({ state: 'ended', endedReason: 'idle_timeout' });
    expect((await sessionRow(handle.db, clinician.sessionId)).revokedReason).toBe('idle_timeout');
    const ends = await handle.db.select().from(auditLog).where(and(eq(auditLog.breakGlassGrantId, grant.id), eq(auditLog.actionType, 'break_glass.end')));
    expect(ends).toHaveLength(1);
  });

  it('an idle session noticed by its own next request ends its grant too', async () => {
    const clinician = await signIn(handle.db, 'staff01@vigil.test', { at: T0 });
    const grant = await grantIn(clinician, T0);
    expect(await checkSession(handle.db, clinician.sessionId, later(T0, sessionPolicy.idleTimeoutMs + 1_000))).toMatchObject({ valid: false, reason: 'idle' });
    expect(await grantNow(grant.id)).toMatchObject({ endedReason: 'idle_timeout' });
  });

  it('disabling the account (all its sessions at once) ends every grant, recorded as the admin’s doing', async () => {
    const clinician = await signIn(handle.db, 'staff02@vigil.test', { at: T0 });
    const admin = await signIn(handle.db, 'admin@vigil.test', { at: T0 });
    const grant = await grantIn(clinician, T0);
    expect(await revokeUserSessions(handle.db, clinician.userId, 'user_disabled', later(T0, 1_000), { by: admin })).toBe(1);
    expect(await grantNow(grant.id)).toMatchObject({ endedReason: 'user_disabled' });
    const [end] = await handle.db.select().from(auditLog).where(and(eq(auditLog.breakGlassGrantId, grant.id), eq(auditLog.actionType, 'break_glass.end')));
    expect(end?.userId).toBe(admin.userId);
  });
});

describe('Auth.js’s own routes', () => {
  it('the sign-out route ends the session row and its grants, once', async () => {
    // The route ends the session at the server's own clock.
    const clinician = await signIn(handle.db, 'staff03@vigil.test', { at: now() });
    const grant = await grantIn(clinician, now());
    await endSessionById(clinician.sessionId, { ip: '192.0.2.1', userAgent: 'vitest' });
    expect((await handle.db.select().from(sessions).where(eq(sessions.id, clinician.sessionId)))[0]?.revokedReason).toBe('sign_out');
    expect(await grantNow(grant.id)).toMatchObject({ endedReason: 'sign_out' });
    await endSessionById(clinician.sessionId, { ip: '192.0.2.1', userAgent: 'vitest' });
    const logouts = await handle.db.select().from(auditLog).where(and(eq(auditLog.resourceId, clinician.sessionId), eq(auditLog.actionType, 'auth.logout')));
    expect(logouts).toHaveLength(1);
    // Garbage in the cookie's place changes nothing and throws nothing.
    await endSessionById("x' OR 1=1 --", { ip: null, userAgent: null });
  });

  it('the session route gives scripts the expiry, never the session id', async () => {
    const sid = crypto.randomUUID();
    const authJs = async () => Response.json({ sid, expires: '2026-03-06T20:00:00.000Z' }, { headers: { 'set-cookie': 'a=b' } });
    const answer = await withoutSessionId(authJs)(new Request('https://vigil.test/api/auth/session'));
    const text = await answer.text();
    expect(text).not.toContain(sid);
    expect(JSON.parse(text)).toEqual({ expires: '2026-03-06T20:00:00.000Z' });
    expect(answer.headers.get('set-cookie')).toBe('a=b');
    // Other Auth.js routes are passed through untouched.
    const csrf = await withoutSessionId(authJs)(new Request('https://vigil.test/api/auth/csrf'));
    expect(await csrf.text()).toContain(sid);
  });
});
