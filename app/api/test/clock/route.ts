import { z } from 'zod';
import { advanceClock, now, resetClock, testClockRouteOpen } from '@/lib/platform/clock';
import { publicEntry } from '@/lib/features/auth/entry';

export const dynamic = 'force-dynamic';

/**
 * Moves the server's clock for end-to-end tests of timeouts and expiries. It exists only when
 * VIGIL_TEST_CLOCK=1 is set at start-up (the Playwright web server does; a real deployment never
 * does), never in production mode (where start-up refuses the variable as well), and answers
 * 404 otherwise, exactly like a route that is not there.
 */
const enabled = testClockRouteOpen;
const body = z.object({ advanceMs: z.number().int().min(0).max(48 * 3_600_000).optional(), reset: z.boolean().optional() });

const whyPublic = 'End-to-end tests move the clock around sign-in itself; it exists only with VIGIL_TEST_CLOCK=1.';

export const POST = publicEntry('test.clock.move', whyPublic, async (request: Request) => {
  if (!enabled()) return new Response('Not found', { status: 404 });
  const parsed = body.safeParse(await request.json().catch(() => null));
  if (!parsed.success) return Response.json({ error: 'Send { advanceMs } or { reset: true }.' }, { status: 400 });
  if (parsed.data.reset) resetClock();
  if (parsed.data.advanceMs) advanceClock(parsed.data.advanceMs);
  return Response.json({ now: now().toISOString() });
});

export const GET = publicEntry('test.clock.read', whyPublic, async () => {
  if (!enabled()) return new Response('Not found', { status: 404 });
  return Response.json({ now: now().toISOString() });
});
