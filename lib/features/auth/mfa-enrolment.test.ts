import { eq } from 'drizzle-orm';
import { generate } from 'otplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { recoveryCodes, users } from '@/db/schema';
import { DEMO_PASSWORD } from '@/db/seed';
import { BROWSER, later, minutes, sessionRow, testDatabase, userRow, viewer as signIn } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { listOwnSessions, signOutEverywhere } from '@/lib/features/auth/account-sessions';
import { signInWithPassword } from '@/lib/features/auth/login';
import { beginTotpEnrolment, confirmTotpEnrolment, disableTotp, getMfaStatus, renewRecoveryCodes } from '@/lib/features/auth/mfa-enrolment';
import { confirmReauthentication, isFactorRecentlyVerified, isRecentlyReauthenticated } from '@/lib/features/credentials/reauth';
import { checkSession } from '@/lib/features/credentials/sessions';

const T0 = new Date('2026-03-03T09:00:00Z');
const EMAIL = 'staff06@vigil.test';
let handle: TestDatabase;

beforeAll(async () => {
  handle = await testDatabase();
});
afterAll(async () => {
  await handle?.close();
});
afterEach(() => {
  delete process.env.VIGIL_REQUIRE_MFA;
});

const codeFor = (secret: string, at: Date) => generate({ secret, epoch: Math.floor(at.getTime() / 1000) });

/** The authenticator the first test enrols, and a proof of it now (its time steps reused freely). */
let enrolledSecret = '';
async function proveFactor(viewer: Awaited<ReturnType<typeof signIn>>, at: Date) {
  await handle.db.update(users).set({ totpLastStep: null }).where(eq(users.email, EMAIL));
  expect(await confirmReauthentication(viewer, await codeFor(enrolledSecret, at), at, { factor: true })).toBe(true);
}

describe('TOTP enrolment', () => {
  it('shows a QR code, enables MFA only after a right code, and returns ten recovery codes once', async () => {
    const viewer = await signIn(handle.db, EMAIL, { at: T0, client: BROWSER });
    const other = await signIn(handle.db, EMAIL, { at: T0, client: BROWSER });
    const at = later(T0, minutes(1));
    const begun = await beginTotpEnrolment(viewer, {}, at);
    if (!begun.ok) throw new Error(begun.error);
    const pending = begun.value;
    enrolledSecret = pending.secret;
    expect(pending.qrDataUrl).toMatch(/^data:image\/png;base64,/);
    expect(pending.uri).toMatch(/^otpauth:\/\/totp\/Vigil:staff06%40vigil\.test\?secret=[A-Z2-7]{32}&issuer=Vigil$/);
    expect(pending.token).not.toContain(pending.secret);
    // Nothing is stored before the confirming code.
    expect((await getMfaStatus(viewer)).enabled).toBe(false);

    expect(await confirmTotpEnrolment(viewer, { token: pending.token, code: '000000' }, at)).toMatchObject({ ok: false, error: 'invalid_code' });
    expect((await getMfaStatus(viewer)).enabled).toBe(false);

    const confirmed = await confirmTotpEnrolment(viewer, { token: pending.token, code: await codeFor(pending.secret, at) }, at);
    if (!confirmed.ok) throw new Error(confirmed.error);
    expect(confirmed.value.recoveryCodes).toHaveLength(10);
    expect(await getMfaStatus(viewer)).toMatchObject({ enabled: true, recoveryCodesLeft: 10 });
    // The code just typed proves the new factor: the page stays open for the next change.
    expect(await isFactorRecentlyVerified(viewer, at)).toBe(true);
    const user = await userRow(handle.db, EMAIL);
    expect(user.sealedTotpSecret).not.toContain(pending.secret);
    // The changed factor ends the user's other sessions, not this one.
    expect(await checkSession(handle.db, other.sessionId, later(at, 1_000))).toMatchObject({ valid: false, reason: 'revoked' });
    expect((await checkSession(handle.db, viewer.sessionId, later(at, 1_000))).valid).toBe(true);

    // The enrolment code cannot be replayed at sign-in; the next one signs in.
    const ip = '198.51.100.20';
    const replay = await signInWithPassword({ email: EMAIL, password: DEMO_PASSWORD, code: await codeFor(pending.secret, at) }, { ip, userAgent: null }, { at });
    expect(replay).toMatchObject({ ok: false, reason: 'mfa_invalid' });
    const next = later(at, 30_000);
    const signedIn = await signInWithPassword({ email: EMAIL, password: DEMO_PASSWORD, code: await codeFor(pending.secret, next) }, { ip, userAgent: null }, { at: next });
    expect(signedIn.ok).toBe(true);
  });

  it('refuses a pending secret from another session, a tampered one, or one left too long', async () => {
    const viewer = await signIn(handle.db, EMAIL, { at: T0, client: BROWSER });
    const thief = await signIn(handle.db, 'staff05@vigil.test', { at: T0, client: BROWSER });
    const at = later(T0, minutes(1));
    await proveFactor(viewer, at);
    const begun = await beginTotpEnrolment(viewer, {}, at);
    if (!begun.ok) throw new Error(begun.error);
    const code = await codeFor(begun.value.secret, at);
    expect(await confirmTotpEnrolment(thief, { token: begun.value.token, code }, at)).toMatchObject({ ok: false, error: 'invalid_code' });
    const { token } = begun.value;
    const middle = Math.floor(token.length / 2);
    const tampered = `${token.slice(0, middle)}${token[middle] === 'A' ? 'B' : 'A'}${token.slice(middle + 1)}`;
    expect(await confirmTotpEnrolment(viewer, { token: tampered, code }, at)).toMatchObject({ ok: false, error: 'invalid_code' });
    await proveFactor(viewer, later(T0, minutes(12)));
    const late = later(T0, minutes(12));
    expect(await confirmTotpEnrolment(viewer, { token, code: await codeFor(begun.value.secret, late) }, late)).toMatchObject({ ok: false, error: 'expired' });
  });
});

describe('changing MFA needs a fresh re-authentication', () => {
  it('refuses after the window and accepts again once the current code (not the password) is entered', async () => {
    const viewer = await signIn(handle.db, EMAIL, { at: T0, client: BROWSER });
    const stale = later(T0, minutes(6));
    expect(await isRecentlyReauthenticated(viewer, stale)).toBe(false);
    expect(await beginTotpEnrolment(viewer, {}, stale)).toMatchObject({ ok: false, error: 'reauth_required' });
    expect(await renewRecoveryCodes(viewer, {}, stale)).toMatchObject({ ok: false, error: 'reauth_required' });
    expect(await disableTotp(viewer, {}, stale)).toMatchObject({ ok: false, error: 'reauth_required' });

    expect(await confirmReauthentication(viewer, 'Wrong-password-1', stale)).toBe(false);
    expect(await isRecentlyReauthenticated(viewer, stale)).toBe(false);
    expect(await confirmReauthentication(viewer, DEMO_PASSWORD, stale)).toBe(true);
    expect((await sessionRow(handle.db, viewer.sessionId)).reauthenticatedAt).toEqual(stale);
    // The account has an authenticator: the password is no proof of it.
    expect(await renewRecoveryCodes(viewer, {}, later(stale, 1_000))).toMatchObject({ ok: false, error: 'reauth_required' });
    await proveFactor(viewer, stale);

    const renewed = await renewRecoveryCodes(viewer, {}, later(stale, 1_000));
    expect(renewed.ok && renewed.value.recoveryCodes).toHaveLength(10);
  });

  it('counts failed re-authentications towards the lockout', async () => {
    const viewer = await signIn(handle.db, 'staff07@vigil.test', { at: T0, client: BROWSER });
    for (let i = 0; i < 5; i++) expect(await confirmReauthentication(viewer, `Wrong-password-${i}`, T0)).toBe(false);
    // Locked now: even the right password is refused until the lock lifts.
    expect(await confirmReauthentication(viewer, DEMO_PASSWORD, later(T0, 1_000))).toBe(false);
    expect(await confirmReauthentication(viewer, DEMO_PASSWORD, later(T0, minutes(16)))).toBe(true);
  });

  it('turns MFA off, unless MFA is required for every account', async () => {
    const viewer = await signIn(handle.db, EMAIL, { at: T0, client: BROWSER });
    const at = later(T0, minutes(1));
    await proveFactor(viewer, at);
    process.env.VIGIL_REQUIRE_MFA = 'true';
    expect(await disableTotp(viewer, {}, at)).toMatchObject({ ok: false, error: 'required' });
    delete process.env.VIGIL_REQUIRE_MFA;
    expect(await disableTotp(viewer, {}, at)).toMatchObject({ ok: true });
    expect(await getMfaStatus(viewer)).toMatchObject({ enabled: false, recoveryCodesLeft: 0 });
    const user = await userRow(handle.db, EMAIL);
    expect(user.sealedTotpSecret).toBeNull();
    expect(await handle.db.select().from(recoveryCodes).where(eq(recoveryCodes.userId, user.id))).toEqual([]);
    expect(await disableTotp(viewer, {}, at)).toMatchObject({ ok: false, error: 'not_enrolled' });
  });
});

describe('own sessions', () => {
  it('lists open sessions and signs out everywhere', async () => {
    const email = 'staff08@vigil.test';
    const mine = await signIn(handle.db, email, { at: T0, client: BROWSER });
    const other = await signIn(handle.db, email, { at: later(T0, 1_000), client: BROWSER });
    await signIn(handle.db, email, { at: later(T0, -minutes(30)), client: BROWSER }); // already idle: not listed
    const listed = await listOwnSessions(mine, later(T0, minutes(1)));
    expect(listed.map((s) => [s.id, s.current])).toEqual([
      [other.sessionId, false],
      [mine.sessionId, true],
    ]);
    expect(listed[0]!.browser).toBe('Chrome on Linux');

    expect(await signOutEverywhere(mine, {}, later(T0, minutes(2)))).toMatchObject({ ok: true, value: 3 });
    for (const id of [mine.sessionId, other.sessionId]) {
      expect((await checkSession(handle.db, id, later(T0, minutes(3)))).valid).toBe(false);
    }
    await handle.db.update(users).set({ failedLogins: 0 }).where(eq(users.email, email));
  });
});
