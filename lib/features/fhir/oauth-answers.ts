import 'server-only';
import { getDb } from '@/db/client';
import type { AuditAction } from '@/lib/domain/audit/actions';
import { recordAudit } from '@/lib/platform/audit';

/**
 * What the OAuth endpoints answer (RFC 6749 §5): a JSON body and a status, and how a refusal is
 * written to the trail — with its reason, the client id when it has a client id's shape, and
 * never the token, code or assertion that was refused.
 */
export interface TokenResponse {
  status: number;
  body: Record<string, unknown>;
}

export interface OAuthCaller {
  ip: string | null;
  userAgent: string | null;
}

export const tokenError = (error: string, description: string, status = 400): TokenResponse => ({ status, body: { error, error_description: description } });

export async function refuseOAuth(
  action: AuditAction,
  caller: OAuthCaller,
  refusal: { reason: string; userId?: string | null; clientId?: string | null },
  answer: TokenResponse,
): Promise<TokenResponse> {
  const db = await getDb();
  const { reason, userId = null, clientId = null } = refusal;
  await db.transaction((tx) =>
    recordAudit(tx, {
      actor: { userId, ...caller },
      action,
      resourceType: 'smart_app',
      resourceId: clientId && /^[A-Za-z0-9._-]{1,64}$/.test(clientId) ? clientId : null,
      outcome: 'denied',
      details: { reason },
    }),
  );
  return answer;
}
