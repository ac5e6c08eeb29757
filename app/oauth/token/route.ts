import { publicEntry } from '@/lib/features/auth/entry';
import { requestClient } from '@/lib/features/auth/request';
import { corsHeadersFor, fhirBaseFor, handleTokenRequest } from '@/lib/features/fhir';

export const dynamic = 'force-dynamic';

export const POST = publicEntry(
  'oauth.token',
  'A SMART app exchanges its authorization code here with its PKCE verifier, not a cookie; the code is bound to the Vigil session that approved it, which is checked again, and every refusal is audited.',
  async (request: Request) => {
    const form = new URLSearchParams(request.headers.get('content-type')?.includes('application/x-www-form-urlencoded') ? (await request.text()).slice(0, 16_384) : '');
    const result = await handleTokenRequest(form, requestClient(request.headers), fhirBaseFor(request), new Date());
    return Response.json(result.body, { status: result.status, headers: { 'Cache-Control': 'no-store', ...(await corsHeadersFor(request.headers.get('origin'))), Pragma: 'no-cache' } });
  },
);

/** CORS preflight for registered browser apps on another origin (lib/features/fhir/apps.ts corsHeadersFor). */
export const OPTIONS = publicEntry(
  'oauth.token.preflight',
  'A browser asks before a cross-origin request, without credentials; the answer names only registered app origins and holds no PHI.',
  async (request: Request) => new Response(null, { status: 204, headers: await corsHeadersFor(request.headers.get('origin')) }),
);
