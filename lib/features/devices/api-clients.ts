import 'server-only';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { asc, desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { getDb } from '@/db/client';
import { apiClients, users } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { adminChange, mayRead } from '@/lib/features/admin/change';
import { done, fieldErrorsOf, invalidInput, refuse, type AdminResult } from '@/lib/features/admin/result';
import { recordAudit, type AuditActor } from '@/lib/platform/audit';
import { now as clockNow } from '@/lib/platform/clock';

/** The public key device feeds encrypt to. */
export { portalPublicJwk } from '@/lib/platform/crypto/portal-jwe';

/**
 * Machine API clients (device feeds). An admin issues a client and receives its secret once;
 * only a SHA-256 hash is stored (the secret is 256 random bits, so a slow hash adds nothing).
 * Revocation takes effect on the next request. The credential is `<clientId>.<secret>`.
 *
 * Issuing and revoking go through lib/features/admin's change pipeline (permission, serialised
 * transaction, audit) and always need a fresh re-authentication: a credential is a standing
 * write path into charts, and cutting a feed stops vitals reaching the ward.
 */
export interface ApiClient {
  id: string;
  name: string;
}

export interface ApiClientSummary extends ApiClient {
  createdAt: string;
  createdBy: string | null;
  revokedAt: string | null;
}

export const apiClientPermission = { read: 'api_clients.read', issue: 'api_clients.issue', revoke: 'api_clients.revoke' } as const;

const hashSecret = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('base64url');
const credentialShape = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/i;
const adminPassword = z.string().max(1024).optional();
const passwordOf = (input: unknown) => adminPassword.catch(undefined).parse((input as { adminPassword?: unknown } | null)?.adminPassword);

export const issueApiClientSchema = z.object({
  name: z.string('Name the client in 3 to 100 characters.').trim().min(3, 'Name the client in 3 to 100 characters.').max(100, 'Name the client in 3 to 100 characters.'),
  adminPassword,
});
const revokeApiClientSchema = z.object({ clientId: z.uuid(), adminPassword });
const notFound = { ok: false, error: 'not_found', message: 'That API client no longer exists. Reload the page.' } as const;

/** Every client, newest first, with who issued it (admins only; a refusal is audited). */
export async function listApiClients(viewer: Viewer): Promise<AdminResult<ApiClientSummary[]>> {
  if (!(await mayRead(viewer, apiClientPermission.read, 'api_client'))) return refuse('denied');
  const db = await getDb();
  const rows = await db
    .select({ id: apiClients.id, name: apiClients.name, createdAt: apiClients.createdAt, createdBy: users.email, revokedAt: apiClients.revokedAt })
    .from(apiClients)
    .leftJoin(users, eq(users.id, apiClients.createdBy))
    .orderBy(desc(apiClients.createdAt), asc(apiClients.id));
  return done(
    rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString(), revokedAt: r.revokedAt?.toISOString() ?? null })),
    '',
  );
}

/** Issues a client. The credential is in this result and nowhere else: the database keeps its hash. */
export async function issueApiClient(viewer: Viewer, input: unknown): Promise<AdminResult<{ client: ApiClient; credential: string }>> {
  return adminChange(
    viewer,
    { permission: apiClientPermission.issue, action: 'api_client.issue', resourceType: 'api_client', password: passwordOf(input) },
    async (ctx) => {
      const parsed = issueApiClientSchema.safeParse(input);
      if (!parsed.success) return invalidInput(fieldErrorsOf(parsed.error));
      if (!ctx.recentlyReauthenticated) return refuse('reauth_required');
      const secret = randomBytes(32).toString('base64url');
      const [client] = await ctx.tx
        .insert(apiClients)
        .values({ name: parsed.data.name, secretHash: hashSecret(secret), createdBy: viewer.userId, createdAt: clockNow() })
        .returning({ id: apiClients.id, name: apiClients.name });
      if (!client) throw new Error('api_clients insert returned no row');
      await ctx.audit({ resourceId: client.id, details: { after: { name: client.name, revoked: false } } });
      return done({ client, credential: `${client.id}.${secret}` }, `Issued ${client.name}.`);
    },
  );
}

/** Revokes a client: its next request is refused (authenticateApiClient reads the row every time). */
export async function revokeApiClient(viewer: Viewer, input: unknown): Promise<AdminResult<{ revokedAt: string }>> {
  const target = (input as { clientId?: unknown } | null)?.clientId;
  return adminChange(
    viewer,
    { permission: apiClientPermission.revoke, action: 'api_client.revoke', resourceType: 'api_client', target, password: passwordOf(input) },
    async (ctx) => {
      const parsed = revokeApiClientSchema.safeParse(input);
      if (!parsed.success) return notFound;
      if (!ctx.recentlyReauthenticated) return refuse('reauth_required');
      const { clientId } = parsed.data;
      const [row] = await ctx.tx.select().from(apiClients).where(eq(apiClients.id, clientId)).limit(1);
      if (!row) return notFound;
      if (row.revokedAt) return done({ revokedAt: row.revokedAt.toISOString() }, `${row.name} was already revoked.`);
      const at = clockNow();
      await ctx.tx.update(apiClients).set({ revokedAt: at }).where(eq(apiClients.id, clientId));
      await ctx.audit({ resourceId: clientId, details: { before: { name: row.name, revoked: false }, after: { name: row.name, revoked: true } } });
      return done({ revokedAt: at.toISOString() }, `Revoked ${row.name}: its requests are refused from now on.`);
    },
  );
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
