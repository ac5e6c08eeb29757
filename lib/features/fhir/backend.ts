import 'server-only';
import { eq } from 'drizzle-orm';
import { errors } from 'oidc-provider';
import { getDb } from '@/db/client';
import { users } from '@/db/schema';
import { parseScopes, scopeString } from '@/lib/domain/access/smart-scopes';
import { auditActions } from '@/lib/domain/audit/actions';
import { recordAudit } from '@/lib/platform/audit';
import { intactRow, macColumns } from '@/lib/platform/integrity';
import { createSession } from '@/lib/features/credentials/sessions';
import { appFor } from '@/lib/features/fhir/apps';
import type { OAuthRequestScope } from '@/lib/features/fhir/oauth-request';

/**
 * SMART Backend Services on oidc-provider: `grant_type=client_credentials` with a
 * `private_key_jwt` client assertion (RS384 or ES384) that the provider verifies against the
 * public JWK Set an admin registered for the client, with its issuer and subject the client id,
 * its audience this server, and its `jti` accepted once (the provider's replay store, in the app
 * database). Vigil adds what SMART asks beyond that: the assertion expires at most five minutes
 * ahead (SMART Backend Services §4.1), and at least one `system/*` scope is asked for.
 *
 * Whose identity the reads carry: each backend client reads as its own service account (a
 * `users` row the registration created, no roles, no password anyone knows), and each token
 * opens a Vigil session of that account. So the trail names the client's account on every read,
 * monitoring counts and judges it like a person, and containment works unchanged: the monitor
 * disabling the account ends the client's tokens and refuses new ones, as does revoking the client.
 */
const MAX_ASSERTION_SECONDS = 300;

/** oidc-provider's `assertJwtClientAuthClaimsAndHeader`: no assertion may live longer than five minutes. */
export function checkAssertionLifetime(claims: { exp?: unknown }, scope: OAuthRequestScope): void {
  if (typeof claims.exp === 'number' && claims.exp - Math.floor(Date.now() / 1000) > MAX_ASSERTION_SECONDS) {
    scope.refusal = 'assertion_too_far_ahead';
    throw new errors.InvalidClientAuth('client assertion expires more than five minutes ahead');
  }
}

/**
 * The Vigil claims of a backend client's token: a fresh session of its service account, which
 * must be enabled and intact, and the token recorded in the same transaction.
 */
export async function backendTokenClaims(clientId: string, scopeValue: string, scope: OAuthRequestScope) {
  const app = await appFor(clientId);
  const serviceUserId = app?.kind === 'backend' ? app.serviceUserId : null;
  if (!serviceUserId) {
    scope.refusal = 'unknown_client';
    throw new errors.InvalidClientAuth('client is not a backend client');
  }
  if (parseScopes(scopeValue).system.length === 0) {
    scope.refusal = 'no_system_scope';
    throw new errors.InvalidScope('Ask for system/*.read (or system/<Type>.rs) scopes this client is registered for.', scopeValue);
  }
  const db = await getDb();
  const sessionId = await db.transaction(async (tx) => {
    const [account] = await tx.select(macColumns.users).from(users).where(eq(users.id, serviceUserId)).limit(1);
    if (!account || account.disabledAt || !(await intactRow(tx, 'users', account))) return null;
    const session = await createSession(tx, serviceUserId, scope.caller);
    await recordAudit(tx, {
      actor: { userId: serviceUserId, ...scope.caller },
      action: auditActions.smart.backendToken,
      resourceType: 'smart_app',
      resourceId: clientId,
      outcome: 'allowed',
      details: { client: clientId, scope: scopeString(parseScopes(scopeValue)) },
    });
    return session.id;
  });
  if (!sessionId) {
    scope.refusal = 'service_account_disabled';
    throw new errors.InvalidClientAuth('the client’s service account is disabled');
  }
  return { sid: sessionId, user: serviceUserId };
}
