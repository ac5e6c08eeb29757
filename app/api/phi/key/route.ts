import { publicEntry } from '@/lib/features/auth/entry';
import { portalPublicJwk } from '@/lib/features/devices/api-clients';

export const dynamic = 'force-dynamic';

/** The public key device feeds encrypt vitals to, as a JWK Set. Public by design. */
export const GET = publicEntry('devices.public-key', 'A public key: device feeds fetch it to encrypt vitals before they authenticate.', async () =>
  Response.json({ keys: [portalPublicJwk()] }, { headers: { 'Cache-Control': 'no-store' } }),
);
