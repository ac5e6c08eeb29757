import 'server-only';
import { env } from '@/lib/platform/env';
import { isProductionMode } from '@/lib/platform/mode';
import type { PermissionSet } from '@/lib/domain/access/permissions';
import { needsSecondFactor } from '@/lib/domain/access/second-factor';

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
 *   disabled accounts all get the same sentence, after the same wait (an argon2id check for an
 *   account that can sign in, an equal pause without one for the rest: see hashPolicy).
 */
export const lockoutPolicy = {
  maxFailures: 5,
  lockMs: 15 * MINUTE,
  ipWindowMs: 15 * MINUTE,
  ipMaxFailures: 30,
} as const;

/**
 * argon2id costs 19 MiB and tens of milliseconds a check, so the number running at once is
 * capped: `maxConcurrent` hashes run, up to `maxWaiting` sign-ins queue behind them, and a
 * sign-in beyond that is refused at once ("the service is busy") without hashing, so a flood
 * can neither exhaust memory nor starve the chart views the same cores serve. Checks for
 * people already signed in (step-up) and for new passwords queue without a bound: their number
 * is bounded by the accounts that exist. Sign-ins at an account that is locked, disabled or
 * does not exist compute no hash at all: they wait as long as a real check takes
 * (`emulatedHashMs` until real checks have been timed), so timing still does not tell them apart.
 */
export const hashPolicy = {
  maxConcurrent: 2,
  maxWaiting: 16,
  emulatedHashMs: 40,
} as const;

export const mfaRequired = (): boolean => env().VIGIL_REQUIRE_MFA;

/**
 * Whether this account must have a second factor before anything else opens: everyone with
 * VIGIL_REQUIRE_MFA, and in production mode every holder of an admin or audit permission
 * whatever it says (the demo's admin and privacy officer sign in with a password alone).
 */
export const mfaRequiredFor = (permissions: PermissionSet): boolean =>
  mfaRequired() || (isProductionMode() && needsSecondFactor(permissions));

/**
 * Cookies carry `Secure` in production. Browsers accept Secure cookies from http://localhost and
 * http://127.0.0.1 (both are potentially trustworthy origins), so the demo signs in over plain
 * http on this machine; VIGIL_INSECURE_COOKIES=true exists only for a demo reached over plain
 * http from another machine.
 */
export const secureCookies = (): boolean => env().NODE_ENV === 'production' && !env().VIGIL_INSECURE_COOKIES;
