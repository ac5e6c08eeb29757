import { isSameOriginFetch } from '@/lib/features/auth/request';
import { keepSessionAlive } from '@/lib/features/auth/current';
import { publicEntry } from '@/lib/features/auth/entry';
import { loginReasonFor } from '@/lib/features/auth/viewer-state';

export const dynamic = 'force-dynamic';

const noStore = { 'Cache-Control': 'no-store' };

/**
 * "Stay signed in", and the idle warning's report of keyboard or pointer use: a real round trip
 * through the session check that always counts as activity, answering with the server's own
 * remaining time (the browser's countdown only mirrors it). No PHI in either answer.
 */
export const POST = publicEntry('session.keep-alive', 'It checks the session itself, and must answer a session that has just ended.', async (request: Request) => {
  if (!isSameOriginFetch(request)) return Response.json({ error: 'Cross-site request refused.' }, { status: 403, headers: noStore });
  const state = await keepSessionAlive();
  if (!state.viewer) return Response.json({ signedIn: false, reason: loginReasonFor(state.reason) }, { status: 401, headers: noStore });
  const { idleRemainingMs, absoluteRemainingMs } = state.session;
  return Response.json({ signedIn: true, idleRemainingMs, absoluteRemainingMs }, { headers: noStore });
});
