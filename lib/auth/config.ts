import 'server-only';

const MINUTE = 60_000;

function minutesFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/** Session policy. The idle limit may be shortened by config but never raised above 15 minutes. */
export const sessionPolicy = {
  idleTimeoutMs: Math.min(minutesFromEnv('VIGIL_IDLE_TIMEOUT_MINUTES', 15), 15) * MINUTE,
  absoluteLifetimeMs: 12 * 60 * MINUTE,
  /** last_seen_at is written at most this often per session, to spare the database. */
  touchIntervalMs: 15_000,
  /** The browser warns this long before the idle limit. */
  warningBeforeMs: 2 * MINUTE,
  /** Sensitive actions need a password or code entered within this window. */
  reauthWindowMs: 5 * MINUTE,
} as const;

/** Lockout policy (OWASP ASVS 6.1.1-style: slow attackers, never lock a ward out for good). */
export const lockoutPolicy = {
  maxFailures: 5,
  lockMs: 15 * MINUTE,
  ipWindowMs: 15 * MINUTE,
  ipMaxFailures: 30,
} as const;

export const mfaRequired = (): boolean => process.env.VIGIL_REQUIRE_MFA === 'true';
