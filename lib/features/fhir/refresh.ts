import 'server-only';
import { createHash, randomBytes } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import { z } from 'zod';
import { getDb, type Queryable } from '@/db/client';
import { smartRefreshTokens } from '@/db/schema';
import { auditActions } from '@/lib/domain/audit/actions';
import { recordAudit, tallyRefusal } from '@/lib/platform/audit';
import { resolveViewerState } from '@/lib/features/auth/viewer-state';
import { appFor } from '@/lib/features/fhir/apps';
import { refuseOAuth, tokenError, type OAuthCaller, type TokenResponse } from '@/lib/features/fhir/oauth-answers';
import { ACCESS_TOKEN_SECONDS, issueAccessToken, tokenClaims, type TokenClaims } from '@/lib/features/fhir/tokens';

/**
 * Refresh tokens, only for a grant that included `offline_access`. A refresh token is 256 random
 * bits, stored as its SHA-256 hash, bound to the client and to the Vigil session that approved
 * the app, and used once: each refresh rotates it. It never outlives that session: a refresh
 * re-checks the session exactly as an API request does (signed out, idle, expired, user disabled
 * → refused), and a refresh does not count as activity, so it cannot keep a session alive.
 * `offline_access` therefore means "across access-token expiry within the sign-in", not "after
 * sign-out": the issue binds every token to the session, and a refresh token that outlived it
 * would be a standing credential no one is signed in behind. Presenting a refresh token that was
 * already used revokes every refresh token of that client and session (a stolen copy was used).
 */
const hashOf = (token: string) => createHash('sha256').update(token, 'utf8').digest('base64url');
const shape = /^[A-Za-z0-9_-]{43}$/;

export async function issueRefreshToken(q: Queryable, claims: TokenClaims, at: Date): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await q.insert(smartRefreshTokens).values({ tokenHash: hashOf(token), clientId: claims.client_id, userId: claims.sub, sessionId: claims.sid, claims, createdAt: at });
  return token;
}

const refreshForm = z.object({ grant_type: z.literal('refresh_token'), refresh_token: z.string().regex(shape), client_id: z.string().max(64) });
const invalidGrant = tokenError('invalid_grant', 'The refresh token is not valid.');

/** Ends every refresh token of one client in one session (reuse detected, or the app revoked). */
async function revokeFamily(q: Queryable, where: { clientId: string; sessionId?: string }, at: Date): Promise<void> {
  await q
    .update(smartRefreshTokens)
    .set({ revokedAt: at })
    .where(and(eq(smartRefreshTokens.clientId, where.clientId), where.sessionId ? eq(smartRefreshTokens.sessionId, where.sessionId) : undefined, isNull(smartRefreshTokens.revokedAt)));
}

export const revokeClientRefreshTokens = (q: Queryable, clientId: string, at: Date) => revokeFamily(q, { clientId }, at);

/** `grant_type=refresh_token`: a new access token and a new refresh token, or a refusal, audited. */
export async function handleRefresh(form: URLSearchParams, caller: OAuthCaller, fhirBase: string, at: Date): Promise<TokenResponse> {
  const refuse = (reason: string, userId: string | null, clientId: string | null) => refuseOAuth(auditActions.smart.refresh, caller, { reason, userId, clientId }, invalidGrant);
  const parsed = refreshForm.safeParse(Object.fromEntries(form));
  if (!parsed.success) return refuse('malformed', null, form.get('client_id'));
  const { refresh_token: presented, client_id: clientId } = parsed.data;
  const db = await getDb();
  const [row] = await db.select().from(smartRefreshTokens).where(eq(smartRefreshTokens.tokenHash, hashOf(presented))).limit(1);
  if (!row || row.clientId !== clientId) return refuse('unknown_refresh_token', row?.userId ?? null, clientId);
  if (row.revokedAt) return refuse('refresh_revoked', row.userId, clientId);
  if (!(await appFor(clientId))) return refuse('app_revoked', row.userId, clientId);
  const state = await resolveViewerState(db, row.sessionId, caller, { at, touch: 'never' });
  if (!state.viewer || state.viewer.userId !== row.userId || state.mfaEnrolmentPending) {
    await revokeFamily(db, { clientId, sessionId: row.sessionId }, at);
    return refuse(`session_${state.viewer ? 'mismatch' : state.reason}`, row.userId, clientId);
  }
  const claims = tokenClaims.parse(row.claims);
  const rotated = await db.transaction(async (tx) => {
    // The row is marked used under its lock: of two concurrent refreshes, one wins and the other is a reuse.
    const [locked] = await tx.select().from(smartRefreshTokens).where(eq(smartRefreshTokens.id, row.id)).for('update').limit(1);
    if (!locked || locked.usedAt || locked.revokedAt) {
      await revokeFamily(tx, { clientId, sessionId: row.sessionId }, at);
      return null;
    }
    await tx.update(smartRefreshTokens).set({ usedAt: at }).where(eq(smartRefreshTokens.id, row.id));
    const next = await issueRefreshToken(tx, claims, at);
    await recordAudit(tx, {
      actor: { userId: row.userId, ...caller },
      action: auditActions.smart.refresh,
      resourceType: 'smart_app',
      resourceId: clientId,
      outcome: 'allowed',
      details: { client: clientId, scope: claims.scope },
    });
    return next;
  });
  if (!rotated) return refuse('refresh_reused', row.userId, clientId);
  return {
    status: 200,
    body: {
      access_token: await issueAccessToken(claims, fhirBase, at),
      token_type: 'Bearer',
      expires_in: ACCESS_TOKEN_SECONDS,
      scope: claims.scope,
      refresh_token: rotated,
      ...(claims.patient ? { patient: claims.patient } : {}),
    },
  };
}

const revokeForm = z.object({ token: z.string().max(4096), client_id: z.string().max(64) });

/**
 * `POST /oauth/revoke` (RFC 7009): the app ends its refresh token, and with it every refresh
 * token of that sign-in. The answer is 200 whether or not the token was known, as the RFC asks,
 * so it tells a prober nothing; access tokens end within five minutes, or at once when the app is
 * revoked or the user signs out.
 */
export async function handleRevocation(form: URLSearchParams, caller: OAuthCaller, at: Date): Promise<TokenResponse> {
  const parsed = revokeForm.safeParse(Object.fromEntries(form));
  if (!parsed.success) return tokenError('invalid_request', 'The revocation request needs the token and the client id.');
  const { token, client_id: clientId } = parsed.data;
  const db = await getDb();
  const [row] = shape.test(token) ? await db.select().from(smartRefreshTokens).where(eq(smartRefreshTokens.tokenHash, hashOf(token))).limit(1) : [];
  if (!row || row.clientId !== clientId) {
    // Anyone can post here: unknown tokens are tallied per source, not one chain entry each.
    tallyRefusal({ action: auditActions.smart.revokeToken, resourceType: 'smart_app', source: caller.ip, ip: caller.ip, userAgent: caller.userAgent, reason: 'unknown_token' });
    return { status: 200, body: {} };
  }
  await db.transaction(async (tx) => {
    await revokeFamily(tx, { clientId, sessionId: row.sessionId }, at);
    await recordAudit(tx, {
      actor: { userId: row.userId, ...caller },
      action: auditActions.smart.revokeToken,
      resourceType: 'smart_app',
      resourceId: clientId,
      outcome: 'allowed',
      details: { client: clientId },
    });
  });
  return { status: 200, body: {} };
}
