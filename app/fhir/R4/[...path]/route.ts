import { publicEntry } from '@/lib/features/auth/entry';
import { requestClient } from '@/lib/features/auth/request';
import { corsHeadersFor, fhirBaseFor, handleFhirRequest } from '@/lib/features/fhir';

export const dynamic = 'force-dynamic';

/** The FHIR R4 read and search API (see lib/features/fhir/api.ts). */
export const GET = publicEntry(
  'fhir.api',
  'SMART apps call the API with a bearer token, not the portal cookie; the handler verifies the token, re-checks the Vigil session it is bound to, runs every read as a guarded operation and audits every refusal.',
  async (request: Request) => {
    const url = new URL(request.url);
    const result = await handleFhirRequest({
      url,
      fhirBase: fhirBaseFor(request),
      authorization: request.headers.get('authorization'),
      ...requestClient(request.headers),
      at: new Date(),
    });
    return Response.json(result.body, {
      status: result.status,
      headers: { 'Content-Type': 'application/fhir+json; charset=utf-8', 'Cache-Control': 'no-store', ...(await corsHeadersFor(request.headers.get('origin'))), ...result.headers },
    });
  },
);

/** CORS preflight for registered browser apps on another origin (lib/features/fhir/apps.ts corsHeadersFor). */
export const OPTIONS = publicEntry(
  'fhir.api.preflight',
  'A browser asks before a cross-origin request, without credentials; the answer names only registered app origins and holds no PHI.',
  async (request: Request) => new Response(null, { status: 204, headers: await corsHeadersFor(request.headers.get('origin')) }),
);
