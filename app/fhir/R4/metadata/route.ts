import { publicEntry } from '@/lib/features/auth/entry';
import { corsHeadersFor, capabilityStatement, fhirBaseFor } from '@/lib/features/fhir';

export const dynamic = 'force-dynamic';

export const GET = publicEntry(
  'fhir.metadata',
  'FHIR clients read the CapabilityStatement before they have a token (FHIR R4 §3.1.0.10); it describes the server and holds no PHI.',
  async (request: Request) =>
    Response.json(capabilityStatement(fhirBaseFor(request), new Date()), {
      headers: { 'Content-Type': 'application/fhir+json; charset=utf-8', 'Cache-Control': 'no-store', ...(await corsHeadersFor(request.headers.get('origin'))) },
    }),
);

/** CORS preflight for registered browser apps on another origin (lib/features/fhir/apps.ts corsHeadersFor). */
export const OPTIONS = publicEntry(
  'fhir.metadata.preflight',
  'A browser asks before a cross-origin request, without credentials; the answer names only registered app origins and holds no PHI.',
  async (request: Request) => new Response(null, { status: 204, headers: await corsHeadersFor(request.headers.get('origin')) }),
);
