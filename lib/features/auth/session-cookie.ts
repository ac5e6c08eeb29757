import 'server-only';
import { LRUCache } from 'lru-cache';
import { decode } from 'next-auth/jwt';

/** What opens a session cookie: Auth.js's secrets and the cookie's name, which salts the key. */
export interface CookieKeys {
  secret: string | string[];
  salt: string;
}

/**
 * Cookies this process has already opened, by their exact value: the same sealed string always
 * opens to the same session id, so a repeat request skips the key derivation and the decryption
 * (about a millisecond of CPU). Only cookies that opened are kept, each until its own expiry; a
 * forged or expired one is decrypted, and refused, every time.
 */
const opened = new LRUCache<string, { sid: string; expiresAtMs: number }>({ max: 10_000 });

/**
 * The session id sealed in an Auth.js session cookie, or null when there is none, it does not
 * open with these keys, or it has expired. Auth.js's own decoder does the cryptography.
 */
export async function sessionIdInCookie(value: string | undefined, keys: CookieKeys): Promise<string | null> {
  if (!value) return null;
  const known = opened.get(value);
  if (known) return known.expiresAtMs > Date.now() ? known.sid : null;
  const payload = await decode({ token: value, secret: keys.secret, salt: keys.salt }).catch(() => null);
  if (typeof payload?.sid !== 'string' || typeof payload.exp !== 'number') return null;
  opened.set(value, { sid: payload.sid, expiresAtMs: payload.exp * 1000 });
  return payload.sid;
}
