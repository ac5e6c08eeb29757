import { publicEntry } from '@/lib/features/auth/entry';
import { readCappedText } from '@/lib/platform/request-body';
import { requestClient } from '@/lib/features/auth/request';
import { handleVitalsRequest, MAX_BODY_BYTES, VITALS_ENDPOINT } from '@/lib/features/devices/vitals-endpoint';

export const dynamic = 'force-dynamic';

/** Device feeds: vitals as a compact JWE to the portal key (see lib/features/devices/vitals-endpoint.ts). */
export const POST = publicEntry(
  VITALS_ENDPOINT,
  'A bedside device sends vitals with its own API client credential and has no sign-in; the endpoint authenticates the client and audits every refusal.',
  async (request: Request) => {
    const result = await handleVitalsRequest({
      authorization: request.headers.get('authorization'),
      auditId: request.headers.get('x-audit-id'),
      // Read only once the client is authenticated, and never past the cap (chunked bodies included).
      readBody: () => readCappedText(request, MAX_BODY_BYTES),
      ...requestClient(request.headers),
    });
    return Response.json(result.body, { status: result.status, headers: { 'Cache-Control': 'no-store' } });
  },
);
