import type { NextRequest } from 'next/server';
import { publicEntry } from '@/lib/features/auth/entry';
import { isSameOriginFetch, requestClient } from '@/lib/features/auth/request';
import { answerConsent, patientGuest, VISIT_COOKIE } from '@/lib/features/visits';
import { readCappedText } from '@/lib/platform/request-body';

export const dynamic = 'force-dynamic';

const noStore = { 'Cache-Control': 'no-store' };
const whyPublic = 'The patient has no account: the visit secret their spent join link gave this browser is their credential, checked by the visit feature.';

/** POST /visit/api/consent {given}: the patient's answer to recording, recorded either way. */
export const POST = publicEntry('visit-guest.consent', whyPublic, async (request: NextRequest) => {
  const guest = isSameOriginFetch(request) ? await patientGuest(request.cookies.get(VISIT_COOKIE)?.value) : null;
  if (!guest) return Response.json({ error: 'This visit is not available.' }, { status: 401, headers: noStore });
  let given: unknown = null;
  try {
    given = (JSON.parse((await readCappedText(request, 256)) ?? 'null') as { given?: unknown } | null)?.given;
  } catch {
    given = null;
  }
  const answer = await answerConsent(guest, given, requestClient(request.headers));
  return answer.ok ? Response.json(answer.value, { headers: noStore }) : Response.json({ error: answer.message }, { status: 400, headers: noStore });
});
