import { publicEntry } from '@/lib/features/auth/entry';
import { handleVitalsRequest, MAX_BODY_BYTES, VITALS_ENDPOINT } from '@/lib/features/devices/vitals-endpoint';

export const dynamic = 'force-dynamic';

/** Device feeds: vitals as a compact JWE to the portal key (see lib/features/devices/vitals-endpoint.ts). */
export const POST = publicEntry(
  VITALS_ENDPOINT,
  'A bedside device sends vitals with its own API client credential and has no sign-in; the endpoint authenticates the client and audits every refusal.',
  async (request: Request) => {
    const declared = Number(request.headers.get('content-length') ?? 0);
    const body = declared > MAX_BODY_BYTES ? 'x'.repeat(MAX_BODY_BYTES + 1) : await request.text();
    const forwarded = request.headers.get('x-forwarded-for')?.split(',')[0]?.trim();
    const result = await handleVitalsRequest({
      authorization: request.headers.get('authorization'),
      auditId: request.headers.get('x-audit-id'),
      body,
      ip: forwarded || request.headers.get('x-real-ip') || null,
      userAgent: request.headers.get('user-agent'),
    });
    return Response.json(result.body, { status: result.status, headers: { 'Cache-Control': 'no-store' } });
  },
);
