import type { NextRequest } from 'next/server';
import { publicEntry } from '@/lib/features/auth/entry';
import { isSameOriginFetch } from '@/lib/features/auth/request';
import { eventStreamResponse, lastEventIdOf, MAX_SIGNAL_BYTES, parseSignal, patientGuest, patientSignal, patientSignals, VISIT_COOKIE } from '@/lib/features/visits';
import { readCappedText } from '@/lib/platform/request-body';

export const dynamic = 'force-dynamic';

const noStore = { 'Cache-Control': 'no-store' };
const whyPublic = 'The patient has no account: the visit secret their spent join link gave this browser is their credential, checked by the visit feature.';
const unavailable = () => Response.json({ error: 'This visit is not available.' }, { status: 401, headers: noStore });

/** GET /visit/api/signal: the patient's server-sent events of the call set-up. */
export const GET = publicEntry('visit-guest.signals', whyPublic, async (request: NextRequest) => {
  const guest = await patientGuest(request.cookies.get(VISIT_COOKIE)?.value);
  return guest ? eventStreamResponse(patientSignals(guest, lastEventIdOf(request))) : unavailable();
});

/** POST /visit/api/signal: one set-up message for the clinician's browser. */
export const POST = publicEntry('visit-guest.signal', whyPublic, async (request: NextRequest) => {
  const guest = isSameOriginFetch(request) ? await patientGuest(request.cookies.get(VISIT_COOKIE)?.value) : null;
  if (!guest) return unavailable();
  const message = parseSignal(await readCappedText(request, MAX_SIGNAL_BYTES));
  if (!message) return Response.json({ error: 'That is not a call set-up message.' }, { status: 400, headers: noStore });
  patientSignal(guest, message);
  return new Response(null, { status: 204, headers: noStore });
});
