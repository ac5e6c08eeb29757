import { eq } from 'drizzle-orm';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, users } from '@/db/schema';
import { DEMO_PASSWORD } from '@/db/seed';
import { sealUserSecret } from '@/lib/platform/crypto';
import { updateWithMac } from '@/lib/platform/integrity';
import { BROWSER, later, minutes, testDatabase, userRow, viewer as signInAs } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { confirmSecondFactor } from '@/lib/features/auth/account-sessions';
import { signInWithPassword } from '@/lib/features/auth/login';
import { beginTotpEnrolment, disableTotp, getMfaStatus, renewRecoveryCodes } from '@/lib/features/auth/mfa-enrolment';
import { lockoutPolicy } from '@/lib/features/credentials/config';
import { confirmReauthentication, isFactorRecentlyVerified } from '@/lib/features/credentials/reauth';
import { replaceRecoveryCodes } from '@/lib/features/credentials/recovery-codes';

/**
 * A stolen password must not be enough to replace or remove a victim's authenticator, and the
 * "right password, now the code" answer at sign-in must not be an unlimited password oracle.
 */
const T0 = new Date('2026-03-05T10:00:00Z');
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const codeAt = (at: Date) => generate({ secret: SECRET, epoch: Math.floor(at.getTime() / 1000) });
let handle: TestDatabase;

async function enrol(email: string) {
  const user = await userRow(handle.db, email);
  await updateWithMac(handle.db, 'users', eq(users.id, user.id), { sealedTotpSecret: sealUserSecret(user.id, 'totp', SECRET), totpEnabledAt: T0, totpLastStep: null, failedLogins: 0, lockedUntil: null });
  return user;
}

beforeAll(async () => {
  handle = await testDatabase();
});
afterAll(async () => {
  await handle?.close();
});

describe('changing the second factor needs the factor, not the password', () => {
  it('refuses the password as the proof once a factor is enrolled, and accepts a current code', async () => {
    const email = 'staff04@vigil.test';
    await enrol(email);
    // A session opened with the password alone (as a thief with the password would hold one).
    const thief = await signInAs(handle.db, email, { at: T0, client: BROWSER });
    const at = later(T0, minutes(1));
    expect(await isFactorRecentlyVerified(thief, at)).toBe(false);
    expect(await beginTotpEnrolment(thief, {}, at)).toMatchObject({ ok: false, error: 'reauth_required' });
    expect(await disableTotp(thief, {}, at)).toMatchObject({ ok: false, error: 'reauth_required' });

    // The password, typed now, is refused as the proof, recorded, and counted as a failure.
    expect(await confirmSecondFactor(thief, { secret: DEMO_PASSWORD }, at)).toMatchObject({ ok: false, error: 'reauth_failed' });
    expect(await beginTotpEnrolment(thief, {}, at)).toMatchObject({ ok: false, error: 'reauth_required' });
    const [refusal] = await handle.db.select({ outcome: auditLog.outcome, details: auditLog.details }).from(auditLog)
      .where(eq(auditLog.actionType, 'auth.reauthenticate')).orderBy(auditLog.seq);
    expect(refusal).toMatchObject({ outcome: 'denied', details: { reason: 'factor_required', factor: true } });
    expect((await userRow(handle.db, email)).failedLogins).toBe(1);

    // The ordinary step-up still takes the password (role changes, break-glass).
    expect(await confirmReauthentication(thief, DEMO_PASSWORD, at)).toBe(true);
    expect(await beginTotpEnrolment(thief, {}, at)).toMatchObject({ ok: false, error: 'reauth_required' });

    // The owner's current code opens the change.
    expect((await confirmSecondFactor(thief, { secret: await codeAt(at) }, at)).ok).toBe(true);
    expect((await beginTotpEnrolment(thief, {}, at)).ok).toBe(true);
    expect((await renewRecoveryCodes(thief, {}, at)).ok).toBe(true);
  });

  it('accepts a recovery code once, for an owner who lost the authenticator', async () => {
    const email = 'staff05@vigil.test';
    const user = await enrol(email);
    const [code] = await replaceRecoveryCodes(handle.db, user.id);
    const owner = await signInAs(handle.db, email, { at: T0, client: BROWSER });
    const at = later(T0, minutes(2));
    expect((await confirmSecondFactor(owner, { secret: code! }, at)).ok).toBe(true);
    expect((await disableTotp(owner, {}, at)).ok).toBe(true);
    expect((await getMfaStatus(owner)).enabled).toBe(false);
    // Spent: the same code is no proof a second time (the account has no factor now, so the
    // password is what a new enrolment asks for).
    await enrol(email);
    expect(await confirmSecondFactor(owner, { secret: code! }, later(at, 1_000))).toMatchObject({ ok: false, error: 'reauth_failed' });
  });

  it('trusts a sign-in made with the code itself as a fresh proof of the factor', async () => {
    const email = 'staff06@vigil.test';
    await enrol(email);
    const at = later(T0, minutes(3));
    const signedIn = await signInWithPassword({ email, password: DEMO_PASSWORD, code: await codeAt(at) }, BROWSER, { at });
    if (!signedIn.ok) throw new Error(signedIn.reason);
    const viewer = { ...(await signInAs(handle.db, email, { at, client: BROWSER })), sessionId: signedIn.sessionId };
    expect(await isFactorRecentlyVerified(viewer, later(at, 1_000))).toBe(true);
  });
});

describe('the right password without its code counts towards the lockout', () => {
  it('locks the account after maxFailures "now enter the code" answers', async () => {
    const email = 'staff07@vigil.test';
    await enrol(email);
    const at = later(T0, minutes(5));
    for (let i = 0; i < lockoutPolicy.maxFailures; i++) {
      expect(await signInWithPassword({ email, password: DEMO_PASSWORD }, { ip: `198.51.100.${60 + i}`, userAgent: null }, { at })).toMatchObject({ ok: false, reason: 'mfa_required' });
    }
    const user = await userRow(handle.db, email);
    expect(user.lockedUntil?.getTime()).toBeGreaterThan(at.getTime());
    // Locked: even the right password and code are refused, with the one message for everything.
    expect(await signInWithPassword({ email, password: DEMO_PASSWORD, code: await codeAt(at) }, { ip: '198.51.100.70', userAgent: null }, { at })).toMatchObject({ ok: false, reason: 'invalid' });
  });

  it('forgets the count when the owner then signs in with the code', async () => {
    const email = 'staff08@vigil.test';
    await enrol(email);
    const at = later(T0, minutes(6));
    expect(await signInWithPassword({ email, password: DEMO_PASSWORD }, { ip: '198.51.100.80', userAgent: null }, { at })).toMatchObject({ reason: 'mfa_required' });
    expect((await userRow(handle.db, email)).failedLogins).toBe(1);
    expect((await signInWithPassword({ email, password: DEMO_PASSWORD, code: await codeAt(at) }, { ip: '198.51.100.80', userAgent: null }, { at })).ok).toBe(true);
    expect((await userRow(handle.db, email)).failedLogins).toBe(0);
  });
});
