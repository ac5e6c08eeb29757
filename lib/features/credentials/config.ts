import 'server-only';
import { env } from '@/lib/platform/env';

const MINUTE = 60_000;

/** HIPAA automatic logoff: the idle limit may be shortened by config, never raised above 15 minutes. */
export const MAX_IDLE_TIMEOUT_MINUTES = 15;

/**
 * Reads VIGIL_IDLE_TIMEOUT_MINUTES. Anything missing, unparsable, zero or negative means the
 * maximum; anything above the maximum is clamped to it, so a typo can only make sessions shorter.
 */
export function idleTimeoutMsFrom(raw: string | undefined): number {
  const value = Number(raw);
  const minutes = raw && Number.isFinite(value) && value > 0 ? value : MAX_IDLE_TIMEOUT_MINUTES;
  return Math.min(minutes, MAX_IDLE_TIMEOUT_MINUTES) * MINUTE;
}

/** Session policy. */
export const sessionPolicy = {
  idleTimeoutMs: idleTimeoutMsFrom(env().VIGIL_IDLE_TIMEOUT_MINUTES),
  absoluteLifetimeMs: 12 * 60 * MINUTE,
  /** last_seen_at is written at most this often per session, to spare the database. */
  touchIntervalMs: 15_000,
  /** The browser warns this long before the idle limit. */
  warningBeforeMs: 2 * MINUTE,
  /** Sensitive actions need a password or code entered within this window. */
  reauthWindowMs: 5 * MINUTE,
} as const;

/**
 * Lockout and throttling policy (OWASP ASVS 5.0 V6.1.1 asks that it be documented, including
 * how it avoids malicious lockout; NIST SP 800-63B §5.2.2 asks for rate limiting):
 *
 * - Per account: `maxFailures` consecutive failed sign-ins (wrong password or wrong code) lock
 *   the account for `lockMs`. Attempts during a lock are refused with the same message as a wrong
 *   password, are not counted and do not extend the lock, which then lifts by itself; the count
 *   restarts after the lock and is cleared by a successful sign-in. An online guesser gets at most
 *   `maxFailures` guesses per `lockMs` per account (480 a day), against passwords of 12+
 *   characters and, where enrolled, a TOTP code.
 * - Per IP address: more than `ipMaxFailures` failures from one address within `ipWindowMs`
 *   throttle every sign-in from it until the window slides past (a plain "too many attempts from
 *   this computer" message, which says nothing about any account). Throttled attempts check no
 *   password and count against no account, so one source can lock at most
 *   ipMaxFailures / maxFailures = 6 accounts per window.
 * - Why a ward cannot be locked out for good: locks are short and lift on their own (no admin
 *   needed), an attacker cannot extend one, and each re-lock costs failures that the IP throttle
 *   rations. An attacker with many addresses can keep re-locking chosen accounts; every lock is
 *   audited (`auth.lockout`) for monitoring to see, and the service desk can clear it.
 * - Messages never say whether an account exists: unknown email, wrong password, locked and
 *   disabled accounts all get the same sentence, after the same argon2id work.
 */
export const lockoutPolicy = {
  maxFailures: 5,
  lockMs: 15 * MINUTE,
  ipWindowMs: 15 * MINUTE,
  ipMaxFailures: 30,
} as const;

export const mfaRequired = (): boolean => env().VIGIL_REQUIRE_MFA;

/**
 * Cookies carry `Secure` in production. Browsers accept Secure cookies from http://localhost and
 * http://127.0.0.1 (both are potentially trustworthy origins), so the demo signs in over plain
 * http on this machine; VIGIL_INSECURE_COOKIES=true exists only for a demo reached over plain
 * http from another machine.
 */
export const secureCookies = (): boolean => env().NODE_ENV === 'production' && !env().VIGIL_INSECURE_COOKIES;
