import 'server-only';
import { getDb } from '@/db/client';
import { auditActions } from '@/lib/domain/audit/actions';
import { recordAudit } from '@/lib/platform/audit';
import { resolveViewerState } from '@/lib/features/auth/viewer-state';
import { sessionPolicy } from '@/lib/features/credentials/config';
import type { OAuthRequestScope } from '@/lib/features/fhir/oauth-request';
import { noLookups, OidcStore } from '@/lib/features/fhir/oidc-store';
import { practitionerUrl } from '@/lib/features/fhir/practitioner';

/**
 * What Vigil adds to each oidc-provider grant: the Vigil session that approved it and the launch
 * patient, kept beside the grant and ended with it (a replayed code, a reused or revoked refresh
 * token, the app revoked), so the API refuses the grant's access tokens from then on too. Every
 * code exchange and refresh checks that session exactly as an API request does — signed out,
 * idle, expired, user disabled → refused — without counting as activity, so `offline_access`
 * means "across access-token expiry within the sign-in", never "after sign-out": a refresh
 * token that outlived its sign-in would be a standing credential no one is signed in behind.
 */
export interface GrantContext {
  grantId: string;
  /** The app's, so revoking the app ends the context with its grants. */
  clientId: string;
  sessionId: string;
  patient: string | null;
}

const CONTEXT_MODEL = 'VigilGrantContext';
const contexts = new OidcStore(CONTEXT_MODEL);

export async function saveGrantContext(context: GrantContext): Promise<void> {
  await contexts.upsert(context.grantId, { ...context }, sessionPolicy.absoluteLifetimeMs / 1000);
}

async function grantContext(grantId: string | undefined): Promise<GrantContext | null> {
  const found = grantId ? await contexts.find(grantId) : undefined;
  return found ? (found as unknown as GrantContext) : null;
}

/**
 * oidc-provider's `findAccount`: at the authorization endpoint the account is whoever the consent
 * page said; at the token endpoint (a code or refresh token in hand) only while the grant's Vigil
 * session is alive and still this user's.
 */
export async function accountFor(sub: string, token: { grantId?: string } | undefined, scope: OAuthRequestScope) {
  // The provider puts in the ID token only the claims of the scopes granted: `fhirUser` with `fhirUser`.
  const account = { accountId: sub, claims: async () => ({ sub, fhirUser: practitionerUrl(scope.fhirBase, sub) }) };
  if (!token) return account;
  const context = await grantContext(token.grantId);
  if (!context) {
    scope.refusal = 'grant_unknown';
    return undefined;
  }
  const state = await resolveViewerState(await getDb(), context.sessionId, scope.caller, { touch: 'never' });
  if (!state.viewer || state.viewer.userId !== sub || state.mfaEnrolmentPending) {
    scope.refusal = `session_${state.viewer ? 'mismatch' : state.reason}`;
    return undefined;
  }
  return account;
}

/**
 * The Vigil claims of a user's access token (its grant, session and launch patient, and with
 * `fhirUser` the user's Practitioner), recorded in the trail before the token is answered: a
 * code exchanged, or a refresh token used.
 */
export async function userTokenClaims(token: { accountId: string; grantId: string; clientId: string; scope?: string; gty?: string }, fhirUser: boolean, scope: OAuthRequestScope) {
  const context = await grantContext(token.grantId);
  if (!context) throw new Error('A token was issued for a grant without its Vigil context.');
  scope.patient = context.patient;
  const refreshed = (token.gty ?? '').includes('refresh_token');
  const db = await getDb();
  await db.transaction((tx) =>
    recordAudit(tx, {
      actor: { userId: token.accountId, ...scope.caller },
      action: refreshed ? auditActions.smart.refresh : auditActions.smart.token,
      resourceType: 'smart_app',
      resourceId: token.clientId,
      outcome: 'allowed',
      details: { client: token.clientId, scope: token.scope ?? '' },
    }),
  );
  return {
    sid: context.sessionId,
    grant_id: token.grantId,
    ...(context.patient ? { patient: context.patient } : {}),
    ...(fhirUser ? { fhirUser: practitionerUrl(scope.fhirBase, token.accountId) } : {}),
  };
}

/**
 * Whether an access token's grant still stands, asked on every API request: its context row is
 * ended with the grant, so a token outlives neither a replayed code nor a revocation, though
 * the JWT itself has minutes left.
 */
export async function grantStanding(grantId: string): Promise<'standing' | 'revoked' | 'unknown'> {
  const seen = noLookups();
  if (await new OidcStore(CONTEXT_MODEL, () => seen).find(grantId)) return 'standing';
  return seen.revoked ? 'revoked' : 'unknown';
}
