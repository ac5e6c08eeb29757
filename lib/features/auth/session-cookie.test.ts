import { describe, expect, it, vi } from 'vitest';
import { encode } from 'next-auth/jwt';
import { sessionIdInCookie } from './session-cookie';

const keys = { secret: 'a-test-secret-of-at-least-thirty-two-chars', salt: 'authjs.session-token' };
const seal = (sid: string, maxAge = 3600, over = keys) => encode({ token: { sid }, secret: over.secret, salt: over.salt, maxAge });

describe('the session cookie', () => {
  it('opens to the session id sealed in it, again from memory', async () => {
    const cookie = await seal('session-1');
    expect(await sessionIdInCookie(cookie, keys)).toBe('session-1');
    expect(await sessionIdInCookie(cookie, keys)).toBe('session-1');
  });

  it('refuses a cookie sealed with another secret, or under another name', async () => {
    expect(await sessionIdInCookie(await seal('s', 3600, { ...keys, secret: 'another-secret-of-at-least-thirty-two-chars' }), keys)).toBeNull();
    expect(await sessionIdInCookie(await seal('s', 3600, { ...keys, salt: '__Host-authjs.session-token' }), keys)).toBeNull();
  });

  it('refuses a cookie altered by one character, every time', async () => {
    const cookie = await seal('session-2');
    const flipped = `${cookie.slice(0, -3)}${cookie.at(-3) === 'A' ? 'B' : 'A'}${cookie.slice(-2)}`;
    expect(await sessionIdInCookie(flipped, keys)).toBeNull();
    expect(await sessionIdInCookie(flipped, keys)).toBeNull();
    expect(await sessionIdInCookie('', keys)).toBeNull();
    expect(await sessionIdInCookie(undefined, keys)).toBeNull();
  });

  it('stops opening a cookie once it expires, though it opened before', async () => {
    const cookie = await seal('session-3', 60);
    expect(await sessionIdInCookie(cookie, keys)).toBe('session-3');
    vi.useFakeTimers({ now: Date.now() + 61_000 });
    try {
      expect(await sessionIdInCookie(cookie, keys)).toBeNull();
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses a cookie that expired before it was ever seen', async () => {
    const cookie = await seal('session-4', 60);
    vi.useFakeTimers({ now: Date.now() + 120_000 });
    try {
      expect(await sessionIdInCookie(cookie, keys)).toBeNull();
    } finally {
      vi.useRealTimers();
    }
  });
});
