import 'server-only';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { getDb } from '@/db/client';
import { apiClients } from '@/db/schema';
import { hasPermission } from '@/lib/access/permissions';
import type { Viewer } from '@/lib/access/viewer';
import { recordAudit, type AuditActor } from '@/lib/audit';
import { now as clockNow } from '@/lib/clock';

/** The public key device feeds encrypt to. */
export { portalPublicJwk } from '@/lib/crypto/portal-jwe';

/**
 * Machine API clients (device feeds). An admin issues a client and receives its secret once;
 * only a SHA-256 hash is stored (the secret is 256 random bits, so a slow hash adds nothing).
 * Revocation takes effect on the next request. The credential is `<clientId>.<secret>`.
 */
export interface ApiClient {
  id: string;
  name: string;
}

const hashSecret = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('base64url');
const credentialShape = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/i;
const clientName = z.string().trim().min(3).max(100);

function mayManage(viewer: Viewer, action: 'issue' | 'revoke'): boolean {
  return hasPermission(viewer.permissions, 'admin', `api_clients.${action}`);
}

export async function issueApiClient(
  viewer: Viewer,
  name: string,
): Promise<{ ok: true; client: ApiClient; credential: string } | { ok: false; message: string }> {
  const parsed = clientName.safeParse(name);
  const db = await getDb();
  return db.transaction(async (tx) => {
    if (!mayManage(viewer, 'issue')) {
      await recordAudit(tx, { actor: viewer, action: 'api_client.issue', resourceType: 'api_client', outcome: 'denied', details: { reason: 'no_permission' } });
      return { ok: false as const, message: 'You do not have access to issue API clients.' };
    }
    if (!parsed.success) return { ok: false as const, message: 'Name the client in 3 to 100 characters.' };
    const secret = randomBytes(32).toString('base64url');
    const [row] = await tx
      .insert(apiClients)
      .values({ name: parsed.data, secretHash: hashSecret(secret), createdBy: viewer.userId })
      .returning({ id: apiClients.id, name: apiClients.name });
    await recordAudit(tx, { actor: viewer, action: 'api_client.issue', resourceType: 'api_client', resourceId: row!.id, outcome: 'allowed' });
    return { ok: true as const, client: row!, credential: `${row!.id}.${secret}` };
  });
}

export async function revokeApiClient(viewer: Viewer, clientId: string): Promise<{ ok: boolean; message: string }> {
  const db = await getDb();
  return db.transaction(async (tx) => {
    const allowed = mayManage(viewer, 'revoke');
    const valid = z.string().uuid().safeParse(clientId).success;
    if (!allowed || !valid) {
      await recordAudit(tx, {
        actor: viewer,
        action: 'api_client.revoke',
        resourceType: 'api_client',
        resourceId: valid ? clientId : null,
        outcome: 'denied',
        details: { reason: allowed ? 'not_found' : 'no_permission' },
      });
      return { ok: false, message: allowed ? 'That API client does not exist.' : 'You do not have access to revoke API clients.' };
    }
    const updated = await tx.update(apiClients).set({ revokedAt: clockNow() }).where(eq(apiClients.id, clientId)).returning({ id: apiClients.id });
    await recordAudit(tx, { actor: viewer, action: 'api_client.revoke', resourceType: 'api_client', resourceId: clientId, outcome: updated.length ? 'allowed' : 'denied' });
    return updated.length ? { ok: true, message: 'API client revoked.' } : { ok: false, message: 'That API client does not exist.' };
  });
}

/** The client named by an `Authorization: Bearer <clientId>.<secret>` header, if valid and not revoked. */
export async function authenticateApiClient(authorization: string | null): Promise<ApiClient | null> {
  const match = authorization?.match(/^Bearer (\S+)$/)?.[1]?.match(credentialShape);
  if (!match) return null;
  const [, id, secret] = match;
  const db = await getDb();
  const [row] = await db.select().from(apiClients).where(eq(apiClients.id, id!)).limit(1);
  // Compare even when the client is unknown, so timing does not reveal which ids exist.
  const expected = Buffer.from(row?.secretHash ?? hashSecret('unknown-client'), 'utf8');
  const actual = Buffer.from(hashSecret(secret!), 'utf8');
  const same = expected.length === actual.length && timingSafeEqual(expected, actual);
  if (!row || !same || row.revokedAt) return null;
  return { id: row.id, name: row.name };
}

export type ApiRejection = 'unauthenticated' | 'no_audit_id' | 'unencrypted' | 'undecryptable' | 'invalid' | 'not_found' | 'too_large';

/** Every refused machine request leaves an audit entry (no payload, only the reason). */
export async function auditApiRejection(
  actor: Pick<AuditActor, 'ip' | 'userAgent'>,
  endpoint: string,
  reason: ApiRejection,
  client: ApiClient | null,
  auditId: string | null,
): Promise<void> {
  const db = await getDb();
  await db.transaction((tx) =>
    recordAudit(tx, {
      actor: { userId: null, ip: actor.ip, userAgent: actor.userAgent },
      action: endpoint,
      resourceType: 'api_client',
      resourceId: client?.id ?? null,
      outcome: 'denied',
      details: { reason, auditId, client: client?.name ?? null },
    }),
  );
}
