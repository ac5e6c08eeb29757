import { publicEntry } from '@/lib/features/auth/entry';
import { corsHeadersFor, fhirBaseFor, smartConfiguration } from '@/lib/features/fhir';

export const dynamic = 'force-dynamic';

export const GET = publicEntry(
  'fhir.smart-configuration',
  'SMART apps discover the authorization endpoints here before anyone signs in (SMART App Launch 2.0 discovery); it holds no PHI.',
  async (request: Request) => Response.json(smartConfiguration(fhirBaseFor(request)), { headers: { 'Cache-Control': 'no-store', ...(await corsHeadersFor(request.headers.get('origin'))) } }),
);

/** CORS preflight for registered browser apps on another origin (lib/features/fhir/apps.ts corsHeadersFor). */
export const OPTIONS = publicEntry(
  'fhir.smart-configuration.preflight',
  'A browser asks before a cross-origin request, without credentials; the answer names only registered app origins and holds no PHI.',
  async (request: Request) => new Response(null, { status: 204, headers: await corsHeadersFor(request.headers.get('origin')) }),
);
