import 'server-only';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { asc, desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { getDb } from '@/db/client';
import { apiClients, users } from '@/db/schema';
import { adminPermission } from '@/lib/domain/access/permission-names';
import { auditActions, type AuditAction } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { recordAudit, tallyRefusal, type AuditActor } from '@/lib/platform/audit';
import { operation, stepUpMessages } from '@/lib/pipeline/operation';
import { adminMessages, adminOnly, adminPassword, adminStepUp, serialisedAdminChange } from '@/lib/features/admin/messages';

/** The public key device feeds encrypt to. */
export { portalPublicJwk } from '@/lib/platform/crypto/portal-jwe';

/**
 * Machine API clients (device feeds). An admin issues a client and receives its secret once;
 * only a SHA-256 hash is stored (the secret is 256 random bits, so a slow hash adds nothing).
 * Revocation takes effect on the next request. The credential is `<clientId>.<secret>`.
 *
 * Issuing and revoking are admin changes like any other (permission, the admin's password,
 * serialised with every admin change, audited) and always need a fresh re-authentication: a
 * credential is a standing write path into charts, and cutting a feed stops vitals reaching the ward.
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


const hashSecret = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('base64url');
const credentialShape = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/i;

const issueApiClientSchema = z.object({
  name: z.string('Name the client in 3 to 100 characters.').trim().min(3, 'Name the client in 3 to 100 characters.').max(100, 'Name the client in 3 to 100 characters.'),
  adminPassword,
});
const revokeApiClientSchema = z.object({ clientId: z.uuid(), adminPassword });
const notFound = () => fail('not_found', 'That API client no longer exists. Reload the page.');

/** Every client, newest first, with who issued it (admins only; a refusal is audited). */
export const listApiClients = operation({
  name: 'admin.api-client.list',
  action: auditActions.apiClient.view,
  resourceType: 'api_client',
  ...adminOnly(adminPermission.readApiClients),
  input: z.unknown(),
  audits: 'refusals',
  run: async ({ tx }) => {
    const rows = await tx
      .select({ id: apiClients.id, name: apiClients.name, createdAt: apiClients.createdAt, createdBy: users.email, revokedAt: apiClients.revokedAt })
      .from(apiClients)
      .leftJoin(users, eq(users.id, apiClients.createdBy))
      .orderBy(desc(apiClients.createdAt), asc(apiClients.id));
    return ok<ApiClientSummary[]>(rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString(), revokedAt: r.revokedAt?.toISOString() ?? null })));
  },
});

const clientChange = {
  resourceType: 'api_client',
  denialReason: 'denied',
  deniedMessage: adminMessages.denied,
  stepUp: adminStepUp,
  ...serialisedAdminChange,
  auditedFailures: ['reauth_required'],
} as const;

/** Issues a client. The credential is in this result and nowhere else: the database keeps its hash. */
export const issueApiClient = operation({
  ...clientChange,
  name: 'admin.api-client.issue',
  action: auditActions.apiClient.issue,
  permission: { category: 'admin', name: adminPermission.issueApiClients },
  input: issueApiClientSchema,
  run: async ({ tx, viewer, input, recentlyReauthenticated, at, audit }): Promise<Result<{ client: ApiClient; credential: string }, 'reauth_required'>> => {
    if (!recentlyReauthenticated) return fail('reauth_required', stepUpMessages.reauth_required);
    const secret = randomBytes(32).toString('base64url');
    const [client] = await tx
      .insert(apiClients)
      .values({ name: input.name, secretHash: hashSecret(secret), createdBy: viewer.userId, createdAt: at })
      .returning({ id: apiClients.id, name: apiClients.name });
    if (!client) throw new Error('api_clients insert returned no row');
    await audit({ resourceId: client.id, details: { after: { name: client.name, revoked: false } } });
    return ok({ client, credential: `${client.id}.${secret}` }, `Issued ${client.name}.`);
  },
});

/** Revokes a client: its next request is refused (authenticateApiClient reads the row every time). */
export const revokeApiClient = operation({
  ...clientChange,
  name: 'admin.api-client.revoke',
  action: auditActions.apiClient.revoke,
  permission: { category: 'admin', name: adminPermission.revokeApiClients },
  target: (raw) => (raw as { clientId?: unknown } | null)?.clientId,
  input: revokeApiClientSchema,
  invalid: notFound,
  run: async ({ tx, input, recentlyReauthenticated, at, audit, unchanged }): Promise<Result<{ revokedAt: string }, 'not_found' | 'reauth_required'>> => {
    if (!recentlyReauthenticated) return fail('reauth_required', stepUpMessages.reauth_required);
    const { clientId } = input;
    const [row] = await tx.select().from(apiClients).where(eq(apiClients.id, clientId)).limit(1);
    if (!row) return notFound();
    if (row.revokedAt) {
      unchanged();
      return ok({ revokedAt: row.revokedAt.toISOString() }, `${row.name} was already revoked.`);
    }
    await tx.update(apiClients).set({ revokedAt: at }).where(eq(apiClients.id, clientId));
    await audit({ resourceId: clientId, details: { before: { name: row.name, revoked: false }, after: { name: row.name, revoked: true } } });
    return ok({ revokedAt: at.toISOString() }, `Revoked ${row.name}: its requests are refused from now on.`);
  },
});

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

/**
 * Every refused machine request is audited (no payload, only the reason). A request from no
 * authenticated client is anyone on the network: it is tallied per address and interval
 * (lib/platform/audit/refusals.ts), so a flood adds one entry per source, not one per request
 * under the chain's lock. An issued client's refusals are entries of their own, with the
 * device's audit id for the vendor to correlate; a client that floods is revoked.
 */
export async function auditApiRejection(
  actor: Pick<AuditActor, 'ip' | 'userAgent'>,
  endpoint: AuditAction,
  reason: ApiRejection,
  client: ApiClient | null,
  auditId: string | null,
): Promise<void> {
  if (!client) {
    tallyRefusal({ action: endpoint, resourceType: 'api_client', source: actor.ip ?? null, ip: actor.ip, userAgent: actor.userAgent, reason });
    return;
  }
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
