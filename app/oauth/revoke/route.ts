import { publicEntry } from '@/lib/features/auth/entry';
import { requestClient } from '@/lib/features/auth/request';
import { corsHeadersFor, handleRevocation } from '@/lib/features/fhir';

export const dynamic = 'force-dynamic';

export const POST = publicEntry(
  'oauth.revoke',
  'A SMART app ends its own refresh token here (RFC 7009) with the token itself, not a cookie; the answer is the same for any token, so it tells a prober nothing, and a revocation is audited.',
  async (request: Request) => {
    const form = new URLSearchParams(request.headers.get('content-type')?.includes('application/x-www-form-urlencoded') ? (await request.text()).slice(0, 16_384) : '');
    const result = await handleRevocation(form, requestClient(request.headers), new Date());
    return Response.json(result.body, { status: result.status, headers: { 'Cache-Control': 'no-store', ...(await corsHeadersFor(request.headers.get('origin'))) } });
  },
);

/** CORS preflight for registered browser apps on another origin (lib/features/fhir/apps.ts corsHeadersFor). */
export const OPTIONS = publicEntry(
  'oauth.revoke.preflight',
  'A browser asks before a cross-origin request, without credentials; the answer names only registered app origins and holds no PHI.',
  async (request: Request) => new Response(null, { status: 204, headers: await corsHeadersFor(request.headers.get('origin')) }),
);
