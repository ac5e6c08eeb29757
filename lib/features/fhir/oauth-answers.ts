import 'server-only';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { getDb } from '@/db/client';
import { auditActions, type AuditAction } from '@/lib/domain/audit/actions';
import { recordAudit, tallyRefusal } from '@/lib/platform/audit';
import type { OAuthRequestScope } from '@/lib/features/fhir/oauth-request';

/**
 * How the authorization server's answers are written to the trail: every refusal at the token
 * endpoint as one entry under the grant's own action (smart.token, smart.refresh,
 * smart.backend_token) with a reason in Vigil's words, the client id when it has a client id's
 * shape, and never the token, code or assertion that was refused; and every revocation.
 */
type ProviderError = Error & { error_detail?: string; cause?: unknown };

const actionFor = (grantType: string): AuditAction =>
  grantType === 'refresh_token' ? auditActions.smart.refresh : grantType === 'client_credentials' ? auditActions.smart.backendToken : auditActions.smart.token;

const detailOf = (error: ProviderError) => `${error.error_detail ?? ''} ${error.cause instanceof Error ? `${error.cause.name} ${error.cause.message}` : ''}`;

/** The provider's error as the reason the trail has always used for it. */
function reasonFor(error: ProviderError, grantType: string, scope: OAuthRequestScope): string {
  if (scope.refusal) return scope.refusal;
  const detail = detailOf(error);
  const code = error.message;
  if (code === 'unsupported_grant_type') return 'unsupported_grant';
  if (code === 'invalid_scope') return grantType === 'client_credentials' ? 'no_system_scope' : 'invalid_scope';
  if (grantType === 'client_credentials') {
    if (/client not found|not a backend client/i.test(detail)) return 'unknown_client';
    if (/only be used once/.test(detail)) return 'jti_replayed';
    if (/audience/.test(detail)) return 'assertion_aud';
    if (/"exp" claim|expired/i.test(detail)) return 'assertion_expired';
    if (/signature|no applicable key|JWKSNoMatchingKey|matching key/i.test(detail)) return 'wrong_key';
    if (code === 'invalid_request') return 'malformed';
    return 'bad_assertion';
  }
  if (code === 'invalid_client') return grantType === 'refresh_token' ? 'app_revoked' : 'client_mismatch';
  if (code === 'invalid_request') return 'malformed';
  if (grantType === 'refresh_token') {
    if (/already used|already consumed/.test(detail)) return 'refresh_reused';
    if (/not found/.test(detail)) return scope.lookups.revokedSeen ? 'refresh_revoked' : 'unknown_refresh_token';
    if (/expired/.test(detail)) return 'refresh_expired';
    return 'unknown_refresh_token';
  }
  if (/already consumed/.test(detail)) return 'code_replayed';
  if (/code_verifier|PKCE/i.test(detail)) return 'pkce_failed';
  if (/mismatch/.test(detail)) return 'client_mismatch';
  if (/not found/.test(detail) && scope.lookups.revokedSeen) return 'code_replayed';
  return 'bad_code';
}

const clientIdOf = (ctx: KoaContextWithOIDC): string | null => {
  const raw = ctx.oidc?.client?.clientId ?? (ctx.oidc?.params?.client_id as string | undefined) ?? null;
  return raw && /^[A-Za-z0-9._-]{1,64}$/.test(raw) ? raw : null;
};

/** One entry for a refused token request, in its own transaction (nothing else was written). */
export async function auditRefusal(ctx: KoaContextWithOIDC, error: ProviderError, scope: OAuthRequestScope): Promise<void> {
  const grantType = String(ctx.oidc?.params?.grant_type ?? '');
  const entities = ctx.oidc?.entities as Record<string, { accountId?: string } | undefined> | undefined;
  const userId = entities?.RefreshToken?.accountId ?? entities?.AuthorizationCode?.accountId ?? null;
  const db = await getDb();
  await db.transaction((tx) =>
    recordAudit(tx, {
      actor: { userId: userId && /^[0-9a-f-]{36}$/.test(userId) ? userId : null, ...scope.caller },
      action: actionFor(grantType),
      resourceType: 'smart_app',
      resourceId: clientIdOf(ctx),
      outcome: 'denied',
      details: { reason: reasonFor(error, grantType, scope) },
    }),
  );
}

/**
 * RFC 7009: the answer is 200 whether or not the token was known, so it tells a prober nothing;
 * a known token's revocation (which ends its whole grant) is recorded, unknown ones are tallied
 * per source, not one chain entry each, since anyone can post here.
 */
export async function auditRevocation(ctx: KoaContextWithOIDC, scope: OAuthRequestScope): Promise<void> {
  const entities = ctx.oidc?.entities as Record<string, { accountId?: string } | undefined> | undefined;
  const token = entities?.RefreshToken ?? entities?.AccessToken;
  const clientId = clientIdOf(ctx);
  if (!token || !clientId) {
    tallyRefusal({ action: auditActions.smart.revokeToken, resourceType: 'smart_app', source: scope.caller.ip, ip: scope.caller.ip, userAgent: scope.caller.userAgent, reason: 'unknown_token' });
    return;
  }
  const db = await getDb();
  await db.transaction((tx) =>
    recordAudit(tx, {
      actor: { userId: token.accountId ?? null, ...scope.caller },
      action: auditActions.smart.revokeToken,
      resourceType: 'smart_app',
      resourceId: clientId,
      outcome: 'allowed',
      details: { client: clientId },
    }),
  );
}
