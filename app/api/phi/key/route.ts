import { portalPublicJwk } from '@/lib/features/devices/api-clients';

export const dynamic = 'force-dynamic';

/** The public key device feeds encrypt vitals to, as a JWK Set. Public by design. */
export function GET() {
  return Response.json({ keys: [portalPublicJwk()] }, { headers: { 'Cache-Control': 'no-store' } });
}
