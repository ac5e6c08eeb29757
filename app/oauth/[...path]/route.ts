import { publicEntry } from '@/lib/features/auth/entry';
import { requestClient } from '@/lib/features/auth/request';
import { fhirBaseFor, handleOAuthRequest } from '@/lib/features/fhir';
import { readCappedText } from '@/lib/platform/request-body';

export const dynamic = 'force-dynamic';

/** The SMART authorization server, oidc-provider (lib/features/fhir/oauth-endpoint.ts): authorize, token, revoke, jwks. */
const answer = async (request: Request) =>
  handleOAuthRequest(
    { method: request.method, url: new URL(request.url), headers: request.headers, body: request.method === 'POST' ? ((await readCappedText(request, 16_384)) ?? '') : '' },
    requestClient(request.headers),
    fhirBaseFor(request),
  );

export const GET = publicEntry(
  'oauth.server',
  'An app starts its authorization here before anyone is signed in to it; the provider only sends the browser on to Vigil’s consent page, which requires the Vigil sign-in, and the resumed request is bound to that browser by the provider’s signed cookies.',
  answer,
);

export const POST = publicEntry(
  'oauth.server.post',
  'A SMART app exchanges its code (with its PKCE verifier), its refresh token or its signed client assertion here, not a cookie; the grant is bound to the Vigil session that approved it, which is checked again, and every refusal is audited.',
  answer,
);

/** CORS preflight for registered browser apps on another origin (the provider answers only their origins). */
export const OPTIONS = publicEntry(
  'oauth.server.preflight',
  'A browser asks before a cross-origin request, without credentials; the answer names only registered app origins and holds no PHI.',
  answer,
);
