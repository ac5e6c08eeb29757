import 'server-only';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { getDb } from '@/db/client';
import { auditActions, type AuditAction } from '@/lib/domain/audit/actions';
import { recordAudit, tallyRefusal } from '@/lib/platform/audit';
import type { OAuthRequestScope } from '@/lib/features/fhir/oauth-request';
import { refusalReason } from '@/lib/features/fhir/refusal-reasons';

/**
 * How the authorization server's answers are written to the trail: every refusal at the token
 * endpoint as one entry under the grant's own action (smart.token, smart.refresh,
 * smart.backend_token) with a reason in Vigil's words (lib/features/fhir/refusal-reasons.ts),
 * the client id when it has a client id's shape, and never the token, code or assertion that was
 * refused; and every revocation.
 */
const actionFor = (grantType: string): AuditAction =>
  grantType === 'refresh_token' ? auditActions.smart.refresh : grantType === 'client_credentials' ? auditActions.smart.backendToken : auditActions.smart.token;

const clientIdOf = (ctx: KoaContextWithOIDC): string | null => {
  const raw = ctx.oidc?.client?.clientId ?? (ctx.oidc?.params?.client_id as string | undefined) ?? null;
  return raw && /^[A-Za-z0-9._-]{1,64}$/.test(raw) ? raw : null;
};

/** One entry for a refused token request, in its own transaction (nothing else was written). */
export async function auditRefusal(ctx: KoaContextWithOIDC, error: Error & { error?: string }, scope: OAuthRequestScope): Promise<void> {
  const grantType = String(ctx.oidc?.params?.grant_type ?? '');
  const client = ctx.oidc?.client;
  const reason = refusalReason({
    // A fault inside a hook reaches the provider's `server_error` event as a plain Error.
    error: error.error ?? 'server_error',
    grantType,
    hookRefusal: scope.refusal,
    lookups: scope.lookups,
    client: client ? { clientId: client.clientId, authMethod: client.clientAuthMethod } : null,
    params: ctx.oidc?.params ?? {},
    audiences: ctx.oidc?.clientJwtAuthExpectedAudience() ?? new Set(),
    now: new Date(),
  });
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
      details: { reason },
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
