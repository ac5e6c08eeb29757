import 'server-only';

/**
 * The one source of "now" for security decisions (idle timeout, grant expiry, lockout), so
 * tests can move time instead of waiting. Production never sets an offset.
 */
const globalForClock = globalThis as unknown as { vigilClockOffsetMs?: number };

export function now(): Date {
  return new Date(Date.now() + (globalForClock.vigilClockOffsetMs ?? 0));
}

export function advanceClock(ms: number): void {
  globalForClock.vigilClockOffsetMs = (globalForClock.vigilClockOffsetMs ?? 0) + ms;
}

export function resetClock(): void {
  globalForClock.vigilClockOffsetMs = 0;
}
