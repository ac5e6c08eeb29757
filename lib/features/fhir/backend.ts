import 'server-only';
import { eq, lt } from 'drizzle-orm';
import { createLocalJWKSet, decodeJwt, errors, jwtVerify, type JSONWebKeySet } from 'jose';
import { z } from 'zod';
import { getDb } from '@/db/client';
import { smartAssertions, users } from '@/db/schema';
import { parseScopes, scopeString, withinRegistered } from '@/lib/domain/access/smart-scopes';
import { auditActions } from '@/lib/domain/audit/actions';
import { recordAudit } from '@/lib/platform/audit';
import { intactRow, macColumns } from '@/lib/platform/integrity';
import { createSession } from '@/lib/features/credentials/sessions';
import { appFor } from '@/lib/features/fhir/apps';
import { BACKEND_ALGORITHMS, FHIR_PATH } from '@/lib/features/fhir/capability';
import { refuseOAuth, tokenError, type OAuthCaller, type TokenResponse } from '@/lib/features/fhir/oauth-answers';
import { ACCESS_TOKEN_SECONDS, issueAccessToken } from '@/lib/features/fhir/tokens';

/**
 * SMART Backend Services: `grant_type=client_credentials` with a `private_key_jwt` client
 * assertion (RS384 or ES384), verified with `jose` against the public JWK Set an admin registered
 * for the client. The assertion's issuer and subject are the client id, its audience this token
 * endpoint, it expires at most five minutes ahead (SMART Backend Services §4.1) and its `jti` is
 * accepted once: the id is kept until the assertion would have expired, so a replay inside its
 * lifetime finds it.
 *
 * Whose identity the reads carry: each backend client reads as its own service account (a
 * `users` row the registration created, no roles, no password anyone knows), and each token
 * opens a Vigil session of that account. So the trail names the client's account on every read,
 * monitoring counts and judges it like a person, and containment works unchanged: the monitor
 * disabling the account ends the client's tokens and refuses new ones, as does revoking the client.
 */
export const MAX_ASSERTION_SECONDS = 300;
export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

const form = z.object({
  grant_type: z.literal('client_credentials'),
  scope: z.string().max(1000),
  client_assertion_type: z.literal(ASSERTION_TYPE),
  client_assertion: z.string().max(8192),
});

const invalidClient = tokenError('invalid_client', 'The client could not be authenticated.', 401);

/** The token endpoint's own URL: the audience a client's assertion must name. */
export const tokenEndpointFor = (fhirBase: string) => `${fhirBase.slice(0, -FHIR_PATH.length)}/oauth/token`;

export async function handleClientCredentials(raw: URLSearchParams, caller: OAuthCaller, fhirBase: string, at: Date): Promise<TokenResponse> {
  const refuse = (reason: string, clientId: string | null, answer = invalidClient, userId: string | null = null) =>
    refuseOAuth(auditActions.smart.backendToken, caller, { reason, clientId, userId }, answer);
  const parsed = form.safeParse(Object.fromEntries(raw));
  if (!parsed.success) return refuse('malformed', null, tokenError('invalid_request', 'A backend token request needs a scope and a signed client assertion.'));
  let claimed: string | null = null;
  try {
    const unverified = decodeJwt(parsed.data.client_assertion);
    claimed = typeof unverified.iss === 'string' ? unverified.iss : null;
  } catch {
    return refuse('malformed_assertion', null);
  }
  const app = await appFor(claimed);
  if (!app || app.kind !== 'backend' || !app.jwks || !app.serviceUserId) return refuse('unknown_client', claimed);
  const clientId = app.clientId;
  const serviceUserId = app.serviceUserId;

  let payload;
  try {
    ({ payload } = await jwtVerify(parsed.data.client_assertion, createLocalJWKSet(app.jwks as unknown as JSONWebKeySet), {
      algorithms: BACKEND_ALGORITHMS,
      issuer: clientId,
      subject: clientId,
      audience: tokenEndpointFor(fhirBase),
      currentDate: at,
      requiredClaims: ['exp', 'jti'],
    }));
  } catch (error) {
    const reason =
      error instanceof errors.JWTExpired ? 'assertion_expired'
      : error instanceof errors.JWTClaimValidationFailed ? `assertion_${error.claim}`
      : error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWSSignatureVerificationFailed ? 'wrong_key'
      : 'bad_assertion';
    return refuse(reason, clientId);
  }
  const jti = typeof payload.jti === 'string' && payload.jti.length <= 200 ? payload.jti : null;
  if (!jti) return refuse('assertion_jti', clientId);
  if (payload.exp! - Math.floor(at.getTime() / 1000) > MAX_ASSERTION_SECONDS) return refuse('assertion_too_far_ahead', clientId);

  const grant = withinRegistered(parseScopes(parsed.data.scope), parseScopes(app.scopes.join(' ')));
  const granted = { ...grant, user: [], patient: [], launch: false, launchPatient: false, offlineAccess: false };
  if (granted.system.length === 0) return refuse('no_system_scope', clientId, tokenError('invalid_scope', 'Ask for system/*.read (or system/<Type>.rs) scopes this client is registered for.'));

  const db = await getDb();
  const issued = await db.transaction(async (tx) => {
    const [account] = await tx.select(macColumns.users).from(users).where(eq(users.id, serviceUserId)).limit(1);
    if (!account || account.disabledAt || !(await intactRow(tx, 'users', account))) return { refused: 'service_account_disabled' } as const;
    // Old ids are cleared as new ones come in; the primary key is what refuses a replay.
    await tx.delete(smartAssertions).where(lt(smartAssertions.expiresAt, at));
    const fresh = await tx
      .insert(smartAssertions)
      .values({ clientId, jti, expiresAt: new Date(payload.exp! * 1000) })
      .onConflictDoNothing()
      .returning({ jti: smartAssertions.jti });
    if (fresh.length === 0) return { refused: 'jti_replayed' } as const;
    const session = await createSession(tx, serviceUserId, caller, at);
    const scope = scopeString(granted);
    await recordAudit(tx, {
      actor: { userId: serviceUserId, ...caller },
      action: auditActions.smart.backendToken,
      resourceType: 'smart_app',
      resourceId: clientId,
      outcome: 'allowed',
      details: { client: clientId, scope, assertion: jti },
    });
    return { refused: null, sessionId: session.id, scope } as const;
  });
  if (issued.refused) return refuse(issued.refused, clientId, issued.refused === 'jti_replayed' ? invalidClient : tokenError('invalid_client', 'This client is disabled.', 401), serviceUserId);
  const accessToken = await issueAccessToken(
    { sub: serviceUserId, sid: issued.sessionId, client_id: clientId, scope: issued.scope, user_types: [], patient_types: [], system_types: granted.system, patient: null },
    fhirBase,
    at,
  );
  return { status: 200, body: { access_token: accessToken, token_type: 'Bearer', expires_in: ACCESS_TOKEN_SECONDS, scope: issued.scope } };
}
