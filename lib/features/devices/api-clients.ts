import 'server-only';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { asc, count, desc, eq, inArray } from 'drizzle-orm';
import { z } from 'zod';
import { getDb } from '@/db/client';
import type { Tx } from '@/db/client';
import { apiClientPatients, apiClients, users } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { adminPermission } from '@/lib/domain/access/permission-names';
import { auditActions, type AuditAction } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { recordAudit, tallyRefusal, type AuditActor } from '@/lib/platform/audit';
import { operation, stepUpMessages } from '@/lib/pipeline/operation';
import { adminMessages, adminOnly, adminPassword, adminStepUp, serialisedAdminChange } from '@/lib/features/admin/messages';
import { findPatientByMrn, mrnQuerySchema } from '@/lib/features/records';
import { signingKeySchema } from '@/lib/features/devices/signing-key';

/** The public key device feeds encrypt to. */
export { portalPublicJwk } from '@/lib/platform/crypto/portal-jwe';

/**
 * Machine API clients (device feeds). An admin issues a client and receives its secret once;
 * only a SHA-256 hash is stored (the secret is 256 random bits, so a slow hash adds nothing).
 * Revocation takes effect on the next request. The credential is `<clientId>.<secret>`.
 *
 * A client is more than a password: it is bound to the patients it serves (named by MRN, as the
 * admin has them from the ward's list), and to the public key its devices sign each reading
 * with (lib/features/devices/device-message.ts), so a leaked credential alone writes nothing and
 * a feed can never write into a chart outside its ward.
 *
 * Issuing and revoking are admin changes like any other (permission, the admin's password,
 * serialised with every admin change, audited) and always need a fresh re-authentication: a
 * credential is a standing write path into charts, and cutting a feed stops vitals reaching the ward.
 */
export interface ApiClient {
  id: string;
  name: string;
  /** The public JWK its readings are verified with (null: issued before signing, always refused). */
  signingKey: unknown;
}

export interface ApiClientSummary {
  id: string;
  name: string;
  createdAt: string;
  createdBy: string | null;
  revokedAt: string | null;
  patients: number;
  signed: boolean;
}


const hashSecret = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('base64url');
const credentialShape = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/i;

/** The MRNs of the patients a client serves, one per line (or separated by commas), as an admin pastes a ward list. */
const MAX_SERVED_PATIENTS = 500;
const servedPatients = z.preprocess(
  (raw) => (typeof raw === 'string' ? raw.split(/[\n,;]+/).map((line) => line.trim()).filter(Boolean) : raw),
  z.array(mrnQuerySchema).max(MAX_SERVED_PATIENTS, `A client serves at most ${MAX_SERVED_PATIENTS} patients; issue one per ward.`),
);

const issueApiClientSchema = z.object({
  name: z.string('Name the client in 3 to 100 characters.').trim().min(3, 'Name the client in 3 to 100 characters.').max(100, 'Name the client in 3 to 100 characters.'),
  signingKey: signingKeySchema,
  patients: servedPatients.optional().default([]),
  adminPassword,
});
const servedPatientsSchema = z.object({ clientId: z.uuid(), patients: servedPatients, adminPassword });
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
      .select({ id: apiClients.id, name: apiClients.name, createdAt: apiClients.createdAt, createdBy: users.email, revokedAt: apiClients.revokedAt, signingKey: apiClients.signingKey })
      .from(apiClients)
      .leftJoin(users, eq(users.id, apiClients.createdBy))
      .orderBy(desc(apiClients.createdAt), asc(apiClients.id));
    const served = rows.length
      ? await tx.select({ clientId: apiClientPatients.clientId, n: count() }).from(apiClientPatients).where(inArray(apiClientPatients.clientId, rows.map((r) => r.id))).groupBy(apiClientPatients.clientId)
      : [];
    const patientsOf = new Map(served.map((r) => [r.clientId, r.n]));
    return ok<ApiClientSummary[]>(
      rows.map(({ signingKey, ...r }) => ({
        ...r,
        createdAt: r.createdAt.toISOString(),
        revokedAt: r.revokedAt?.toISOString() ?? null,
        patients: patientsOf.get(r.id) ?? 0,
        signed: signingKey !== null,
      })),
    );
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

/**
 * The patient ids of these MRNs, each lookup audited like any admin naming a patient; the
 * position of the first MRN that names nobody, so the form can say which line to fix.
 */
async function resolveServedPatients(tx: Tx, viewer: Viewer, mrns: string[]): Promise<Result<string[], 'invalid'>> {
  const ids: string[] = [];
  for (const [index, mrn] of mrns.entries()) {
    const found = await findPatientByMrn(tx, viewer, mrn);
    if (!found) {
      const message = `Line ${index + 1}: no patient has that MRN.`;
      return fail('invalid', message, { patients: message });
    }
    ids.push(found.patientId);
  }
  return ok([...new Set(ids)]);
}

async function replaceServedPatients(tx: Tx, clientId: string, patientIds: string[], by: string, at: Date): Promise<void> {
  await tx.delete(apiClientPatients).where(eq(apiClientPatients.clientId, clientId));
  if (patientIds.length) await tx.insert(apiClientPatients).values(patientIds.map((patientId) => ({ clientId, patientId, addedBy: by, addedAt: at })));
}

/** Issues a client. The credential is in this result and nowhere else: the database keeps its hash. */
export const issueApiClient = operation({
  ...clientChange,
  name: 'admin.api-client.issue',
  action: auditActions.apiClient.issue,
  permission: { category: 'admin', name: adminPermission.issueApiClients },
  input: issueApiClientSchema,
  run: async ({ tx, viewer, input, recentlyReauthenticated, at, audit }): Promise<Result<{ client: ApiClient; credential: string }, 'reauth_required' | 'invalid'>> => {
    if (!recentlyReauthenticated) return fail('reauth_required', stepUpMessages.reauth_required);
    const served = await resolveServedPatients(tx, viewer, input.patients);
    if (!served.ok) return served;
    const secret = randomBytes(32).toString('base64url');
    const [client] = await tx
      .insert(apiClients)
      .values({ name: input.name, secretHash: hashSecret(secret), signingKey: input.signingKey, createdBy: viewer.userId, createdAt: at })
      .returning({ id: apiClients.id, name: apiClients.name, signingKey: apiClients.signingKey });
    if (!client) throw new Error('api_clients insert returned no row');
    await replaceServedPatients(tx, client.id, served.value, viewer.userId, at);
    await audit({ resourceId: client.id, details: { after: { name: client.name, revoked: false, patients: served.value.length, keyType: input.signingKey.crv } } });
    const who = served.value.length === 1 ? '1 patient' : `${served.value.length} patients`;
    return ok({ client, credential: `${client.id}.${secret}` }, `Issued ${client.name}, serving ${who}.`);
  },
});

/** Replaces the patients a client serves (a ward's list changes): readings for anyone else are refused from the next request. */
export const setApiClientPatients = operation({
  ...clientChange,
  name: 'admin.api-client.scope',
  action: auditActions.apiClient.scope,
  permission: { category: 'admin', name: adminPermission.scopeApiClients },
  target: (raw) => (raw as { clientId?: unknown } | null)?.clientId,
  input: servedPatientsSchema,
  run: async ({ tx, viewer, input, recentlyReauthenticated, at, audit }): Promise<Result<{ patients: number }, 'not_found' | 'reauth_required' | 'invalid'>> => {
    if (!recentlyReauthenticated) return fail('reauth_required', stepUpMessages.reauth_required);
    const [row] = await tx.select({ name: apiClients.name, revokedAt: apiClients.revokedAt }).from(apiClients).where(eq(apiClients.id, input.clientId)).limit(1);
    if (!row || row.revokedAt) return notFound();
    const served = await resolveServedPatients(tx, viewer, input.patients);
    if (!served.ok) return served;
    const before = await tx.select({ patientId: apiClientPatients.patientId }).from(apiClientPatients).where(eq(apiClientPatients.clientId, input.clientId));
    await replaceServedPatients(tx, input.clientId, served.value, viewer.userId, at);
    await audit({ resourceId: input.clientId, details: { before: { patients: before.map((r) => r.patientId).sort() }, after: { patients: [...served.value].sort() } } });
    return ok({ patients: served.value.length }, `${row.name} now serves ${served.value.length === 1 ? '1 patient' : `${served.value.length} patients`}.`);
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
  return { id: row.id, name: row.name, signingKey: row.signingKey };
}

export type ApiRejection =
  | 'unauthenticated'
  | 'no_audit_id'
  | 'unencrypted'
  | 'undecryptable'
  | 'unsigned'
  | 'stale'
  | 'replayed'
  | 'invalid'
  | 'not_served'
  | 'too_large';

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
