import type { NextRequest } from 'next/server';
import { publicEntry } from '@/lib/features/auth/entry';
import { isSameOriginFetch, requestClient } from '@/lib/features/auth/request';
import { joinWithLink, VISIT_COOKIE } from '@/lib/features/visits';
import { readCappedText } from '@/lib/platform/request-body';

export const dynamic = 'force-dynamic';

const noStore = { 'Cache-Control': 'no-store' };
const whyPublic = 'The patient has no account: the one-time join link is their credential, checked, spent and audited by the visit feature.';

/** POST /visit/api/join {token}: spends a join link and gives this browser the visit's secret. */
export const POST = publicEntry('visit-guest.join', whyPublic, async (request: NextRequest) => {
  if (!isSameOriginFetch(request)) return Response.json({ error: 'Cross-site request refused.' }, { status: 403, headers: noStore });
  let token: unknown = null;
  try {
    token = (JSON.parse((await readCappedText(request, 1_024)) ?? 'null') as { token?: unknown } | null)?.token;
  } catch {
    token = null;
  }
  const joined = await joinWithLink(token, requestClient(request.headers));
  if (!joined.ok) return Response.json({ error: joined.message }, { status: 410, headers: noStore });
  const { credential, ...visit } = joined.value;
  const response = Response.json(visit, { headers: noStore });
  const secure = request.nextUrl.protocol === 'https:' || request.headers.get('x-forwarded-proto') === 'https';
  response.headers.append('Set-Cookie', `${VISIT_COOKIE}=${credential}; Path=/visit; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`);
  return response;
});
