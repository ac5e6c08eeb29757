import 'server-only';
import { env } from '@/lib/platform/env';
import { isProductionMode } from '@/lib/platform/mode';

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

/**
 * Whether the test-only clock route (`/api/test/clock`) exists in this process: only with
 * VIGIL_TEST_CLOCK=1, and never in production mode, whatever the variable says.
 */
export function testClockRouteOpen(): boolean {
  return env().VIGIL_TEST_CLOCK && !isProductionMode();
}
