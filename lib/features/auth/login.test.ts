import { eq } from 'drizzle-orm';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, loginAttempts, recoveryCodes, users } from '@/db/schema';
import { DEMO_PASSWORD } from '@/db/seed';
import { sealUserSecret } from '@/lib/platform/crypto';
import { updateWithMac } from '@/lib/platform/integrity';
import { later, minutes, testDatabase, userRow } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { lockoutPolicy } from '@/lib/features/credentials/config';
import { INVALID_LOGIN_MESSAGE, signInWithPassword, type Credentials, type LoginResult } from '@/lib/features/auth/login';
import { replaceRecoveryCodes } from '@/lib/features/credentials/recovery-codes';
import { checkSession } from '@/lib/features/credentials/sessions';

const T0 = new Date('2026-03-02T08:00:00Z');
let handle: TestDatabase;

beforeAll(async () => {
  handle = await testDatabase();
});
afterAll(async () => {
  await handle?.close();
});

const client = (ip: string) => ({ ip, userAgent: 'vitest' });
const signIn = (email: string, password: string, ip: string, at: Date, code?: string) =>
  signInWithPassword({ email, password, code }, client(ip), { at });
const ok = (result: LoginResult) => {
  if (!result.ok) throw new Error(`sign-in failed: ${result.reason}`);
  return result;
};

describe('sign-in and session fixation', () => {
  it('makes a new session id at every sign-in and ends the one the browser held', async () => {
    const first = ok(await signIn('staff05@vigil.test', DEMO_PASSWORD, '198.51.100.1', T0));
    const second = ok(
      await signInWithPassword({ email: 'staff05@vigil.test', password: DEMO_PASSWORD }, client('198.51.100.1'), {
        at: later(T0, 1_000),
        replacesSessionId: first.sessionId,
      }),
    );
    expect(second.sessionId).not.toBe(first.sessionId);
    expect(await checkSession(handle.db, first.sessionId, later(T0, 2_000))).toMatchObject({ valid: false, reason: 'revoked' });
    expect((await checkSession(handle.db, second.sessionId, later(T0, 2_000))).valid).toBe(true);
  });

  it('ignores a "previous session" that is not a session id', async () => {
    const result = await signInWithPassword({ email: 'staff05@vigil.test', password: DEMO_PASSWORD }, client('198.51.100.1'), {
      at: later(T0, 3_000),
      replacesSessionId: "x'; DROP TABLE sessions; --",
    });
    expect(result.ok).toBe(true);
  });
});

describe('messages never reveal whether an account exists', () => {
  it('answers an unknown email exactly like a wrong password, a locked and a disabled account', async () => {
    const ip = '198.51.100.2';
    const unknown = await signIn('nobody-here@vigil.test', 'Wrong-password-1', ip, T0);
    const wrong = await signIn('staff06@vigil.test', 'Wrong-password-1', ip, T0);
    expect(unknown).toEqual({ ok: false, reason: 'invalid', message: INVALID_LOGIN_MESSAGE });
    expect(wrong).toEqual(unknown);

    const disabledUser = await userRow(handle.db, 'staff07@vigil.test');
    await handle.db.update(users).set({ disabledAt: T0 }).where(eq(users.id, disabledUser.id));
    expect(await signIn('staff07@vigil.test', DEMO_PASSWORD, ip, T0)).toEqual(unknown);
    await handle.db.update(users).set({ disabledAt: null }).where(eq(users.id, disabledUser.id));
  });
});

describe('input is checked on the server before any account is looked up', () => {
  // A crafted post skips whatever the browser checks; staff03 is a real account it must not reach.
  const account = 'staff03@vigil.test';
  const ip = '198.51.100.6';
  const missing = 'Enter your email and password.';

  /** What a sign-in attempt leaves behind: audit entries, attempt rows and the account's counters. */
  async function traces() {
    return {
      audit: (await handle.db.select({ seq: auditLog.seq }).from(auditLog)).length,
      attempts: (await handle.db.select({ id: loginAttempts.id }).from(loginAttempts)).length,
      account: await userRow(handle.db, account),
    };
  }

  it.each<[string, unknown, string]>([
    ['an empty form', { email: '', password: '' }, missing],
    ['a blank email', { email: '   ', password: DEMO_PASSWORD }, missing],
    ['no password', { email: account, password: '' }, missing],
    ['missing fields', {}, missing],
    ['a 10,000-character email', { email: `${'a'.repeat(10_000)}@vigil.test`, password: DEMO_PASSWORD }, 'That email address is too long.'],
    ['an oversized password', { email: account, password: 'x'.repeat(1_025) }, 'That password is too long.'],
    ['an oversized code', { email: account, password: DEMO_PASSWORD, code: '1'.repeat(33) }, 'That code is too long.'],
    ['a number as the email', { email: 42, password: DEMO_PASSWORD }, missing],
    ['a list as the password', { email: account, password: [DEMO_PASSWORD] }, missing],
    ['an object as the code', { email: account, password: DEMO_PASSWORD, code: { digits: '123456' } }, 'That code is not valid.'],
    ['null instead of credentials', null, missing],
    ['text instead of credentials', `email=${account}`, missing],
  ])('refuses %s with a plain message, touching no account', async (_, input, message) => {
    const before = await traces();
    const result = await signInWithPassword(input as Credentials, client(ip), { at: T0 });
    expect(result).toEqual({ ok: false, reason: 'bad_input', message });
    expect(await traces()).toEqual(before);
  });
});

describe('account lockout', () => {
  const email = 'staff08@vigil.test';
  const ip = '198.51.100.3';

  it(`locks after ${lockoutPolicy.maxFailures} failures for ${lockoutPolicy.lockMs / 60_000} minutes, then lifts by itself`, async () => {
    for (let i = 0; i < lockoutPolicy.maxFailures; i++) {
      expect(await signIn(email, `Wrong-password-${i}`, ip, later(T0, i * 1_000))).toMatchObject({ reason: 'invalid' });
    }
    const user = await userRow(handle.db, email);
    const lockedAt = later(T0, (lockoutPolicy.maxFailures - 1) * 1_000);
    expect(user.lockedUntil).toEqual(later(lockedAt, lockoutPolicy.lockMs));
    const lockouts = await handle.db.select().from(auditLog).where(eq(auditLog.actionType, 'auth.lockout'));
    expect(lockouts.map((e) => e.resourceId)).toContain(user.id);

    // Locked: even the right password gets the one message, and the attempts do not extend the lock.
    const during = await signIn(email, DEMO_PASSWORD, ip, later(lockedAt, minutes(14)));
    expect(during).toEqual({ ok: false, reason: 'invalid', message: INVALID_LOGIN_MESSAGE });
    await signIn(email, 'Wrong-password-x', ip, later(lockedAt, minutes(14)));
    expect((await userRow(handle.db, email)).lockedUntil).toEqual(later(lockedAt, lockoutPolicy.lockMs));

    // After the period it opens, and success clears the count.
    expect((await signIn(email, DEMO_PASSWORD, ip, later(lockedAt, lockoutPolicy.lockMs + 1_000))).ok).toBe(true);
    expect(await userRow(handle.db, email)).toMatchObject({ failedLogins: 0, lockedUntil: null });
  });

  it('throttles an address after too many failures, without touching any account', async () => {
    const attacker = '203.0.113.9';
    const at = later(T0, minutes(60));
    for (let i = 0; i < lockoutPolicy.ipMaxFailures; i++) {
      await signIn(`guess-${i}@vigil.test`, 'Wrong-password-1', attacker, later(at, i));
    }
    const throttled = await signIn('staff01@vigil.test', DEMO_PASSWORD, attacker, later(at, 1_000));
    expect(throttled).toMatchObject({ ok: false, reason: 'throttled' });
    expect(throttled.ok || throttled.message).not.toMatch(/staff01|account/i);
    expect((await userRow(handle.db, 'staff01@vigil.test')).failedLogins).toBe(0);
    // Another address is unaffected, and the throttle slides off with its window.
    expect((await signIn('staff01@vigil.test', DEMO_PASSWORD, '198.51.100.4', later(at, 1_000))).ok).toBe(true);
    expect((await signIn('staff01@vigil.test', DEMO_PASSWORD, attacker, later(at, lockoutPolicy.ipWindowMs + 1_000))).ok).toBe(true);
  });
});

describe('TOTP second factor and recovery codes', () => {
  const email = 'staff02@vigil.test';
  const ip = '198.51.100.5';
  const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
  const codeAt = (at: Date) => generate({ secret, epoch: Math.floor(at.getTime() / 1000) });

  beforeAll(async () => {
    const user = await userRow(handle.db, email);
    await updateWithMac(handle.db, 'users', eq(users.id, user.id), { sealedTotpSecret: sealUserSecret(user.id, 'totp', secret), totpEnabledAt: T0, totpLastStep: null });
  });

  it('asks for the code after a right password, accepts the right code once, refuses a wrong or replayed one', async () => {
    const at = later(T0, minutes(1));
    expect(await signIn(email, DEMO_PASSWORD, ip, at)).toMatchObject({ ok: false, reason: 'mfa_required' });
    const code = await codeAt(at);
    const wrongCode = code === '000000' ? '111111' : '000000';
    expect(await signIn(email, DEMO_PASSWORD, ip, at, wrongCode)).toMatchObject({ ok: false, reason: 'mfa_invalid' });
    expect((await signIn(email, DEMO_PASSWORD, ip, at, code)).ok).toBe(true);
    // The same code again, even seconds later within its step, is a replay.
    expect(await signIn(email, DEMO_PASSWORD, ip, later(at, 5_000), code)).toMatchObject({ ok: false, reason: 'mfa_invalid' });
    const replays = await handle.db.select({ details: auditLog.details }).from(auditLog).where(eq(auditLog.actionType, 'auth.mfa'));
    expect(replays.map((r) => (r.details as { reason?: string }).reason)).toEqual(['invalid', 'replayed']);
    // The next step's code works.
    const next = later(at, 30_000);
    expect((await signIn(email, DEMO_PASSWORD, ip, next, await codeAt(next))).ok).toBe(true);
  });

  it('does not accept a right code with a wrong password, nor odd input as a code', async () => {
    const at = later(T0, minutes(2));
    expect(await signIn(email, 'Wrong-password-1', ip, at, await codeAt(at))).toMatchObject({ reason: 'invalid' });
    for (const odd of ['12345', '1234567', 'abc', '!!!!!!']) {
      expect(await signIn(email, DEMO_PASSWORD, ip, at, odd)).toMatchObject({ ok: false, reason: 'mfa_invalid' });
    }
    await handle.db.update(users).set({ failedLogins: 0, lockedUntil: null }).where(eq(users.email, email));
  });

  it('accepts each recovery code once in the code field; they are stored only as hashes', async () => {
    const user = await userRow(handle.db, email);
    const codes = await replaceRecoveryCodes(handle.db, user.id);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    const stored = await handle.db.select().from(recoveryCodes).where(eq(recoveryCodes.userId, user.id));
    for (const code of codes) expect(stored.some((row) => row.codeHash.includes(code.replace(/-/g, '')))).toBe(false);

    const at = later(T0, minutes(3));
    expect((await signIn(email, DEMO_PASSWORD, ip, at, codes[0]!.toUpperCase())).ok).toBe(true);
    expect(await signIn(email, DEMO_PASSWORD, ip, at, codes[0])).toMatchObject({ ok: false, reason: 'mfa_invalid' });
    expect((await signIn(email, DEMO_PASSWORD, ip, at, codes[1]!.replace(/-/g, ' '))).ok).toBe(true);
  });
});
