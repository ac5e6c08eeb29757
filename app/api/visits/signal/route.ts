import { guardedRoute } from '@/lib/features/auth/entry';
import { isSameOriginFetch } from '@/lib/features/auth/request';
import { clinicianSignal, clinicianSignals, eventStreamResponse, lastEventIdOf, MAX_SIGNAL_BYTES } from '@/lib/features/visits';
import { readCappedText } from '@/lib/platform/request-body';

export const dynamic = 'force-dynamic';

const noStore = { 'Cache-Control': 'no-store' };
const visitOf = (request: Request) => new URL(request.url).searchParams.get('visit');
const refused = (status: number, message: string) => Response.json({ error: message }, { status, headers: noStore });
const signIn = () => refused(401, 'Sign in to join this visit.');

/** GET /api/visits/signal?visit=…: the clinician's server-sent events of a visit's call set-up. */
export const GET = guardedRoute(
  clinicianSignals,
  (request) => ({ visitId: visitOf(request), lastEventId: lastEventIdOf(request) }),
  (result) => (result.ok ? eventStreamResponse(result.value) : refused(403, result.message)),
  signIn,
);

/** POST /api/visits/signal?visit=…: one set-up message for the patient's browser. */
export const POST = guardedRoute(
  clinicianSignal,
  (request) => (isSameOriginFetch(request) ? { visitId: visitOf(request), readBody: () => readCappedText(request, MAX_SIGNAL_BYTES) } : null),
  (result) => (result.ok ? new Response(null, { status: 204, headers: noStore }) : refused(result.error === 'invalid' ? 400 : 403, result.message)),
  signIn,
);
