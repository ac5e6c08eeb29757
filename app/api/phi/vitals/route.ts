import { handleVitalsRequest, MAX_BODY_BYTES } from '@/lib/features/devices/vitals-endpoint';

export const dynamic = 'force-dynamic';

/** Device feeds: vitals as a compact JWE to the portal key (see lib/features/devices/vitals-endpoint.ts). */
export async function POST(request: Request) {
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
}
