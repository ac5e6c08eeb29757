import 'server-only';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { and, eq, isNull, lt, sql } from 'drizzle-orm';
import { errors } from 'oidc-provider';
import { getDb, type Queryable } from '@/db/client';
import { oidcRecords } from '@/db/schema';

/**
 * oidc-provider's storage (its Adapter interface) in the app database, one row per stored
 * object, so every instance behind the load balancer sees the same interactions, grants, codes,
 * refresh tokens and client assertion ids, and a restart loses none of them. Expired rows are
 * never returned and are cleared as new ones come in. Clients are not stored here: oidc-provider
 * asks for them by id and gets the registration (lib/features/fhir/apps.ts) as it stands now.
 *
 * A grant's records are ended, not deleted, when the grant is revoked (a reused code or refresh
 * token, the app revoking its token, an admin revoking the app): `revoked` then tells the trail
 * that the token presented was a revoked one, not one that never existed.
 */
type Payload = Record<string, unknown>;

/**
 * The transaction of the guarded operation that is talking to the provider (the consent's),
 * so the grant it creates commits with the operation's audit entry, or not at all.
 */
const operationTx = new AsyncLocalStorage<Queryable>();
export const inTransaction = <T>(tx: Queryable, work: () => Promise<T>): Promise<T> => operationTx.run(tx, work);

/**
 * Rows are keyed by the SHA-256 of the provider's id: for codes and refresh tokens the id is the
 * token itself, so what the database holds cannot be presented back.
 */
const key = (id: string) => createHash('sha256').update(id, 'utf8').digest('base64url');
/** The models whose id is a credential: their payload is kept without it, and it is put back on lookup. */
const credentials = new Set(['AuthorizationCode', 'RefreshToken', 'AccessToken', 'ClientCredentials']);

const expiry = (expiresIn: number | undefined, at = Date.now()) => (expiresIn ? new Date(at + expiresIn * 1000) : null);

/**
 * Per request: what the lookups met, so a refusal is named from what the store saw, never from
 * the wording of the provider's error (lib/features/fhir/refusal-reasons.ts).
 */
export interface StoreLookups {
  /** A record its grant's revocation had ended. */
  revoked: boolean;
  /** A record past its expiry (answered as not found). */
  expired: boolean;
  /** A code or refresh token already used, or used by a request racing this one. */
  consumed: boolean;
  /** A client assertion whose `jti` was seen before. */
  replayed: boolean;
  /** The code or refresh token this request presented, as stored. */
  credential: Payload | null;
}

export const noLookups = (): StoreLookups => ({ revoked: false, expired: false, consumed: false, replayed: false, credential: null });
/** The models whose records a token request presents: the ones a refusal is explained by. */
const presented = new Set(['AuthorizationCode', 'RefreshToken']);

export class OidcStore {
  constructor(
    private readonly model: string,
    private readonly lookups: () => StoreLookups | undefined = () => undefined,
  ) {}

  private db = async (): Promise<Queryable> => operationTx.getStore() ?? getDb();

  async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
    const { jti: _credential, ...rest } = payload;
    const row = {
      model: this.model,
      id: key(id),
      payload: credentials.has(this.model) ? rest : payload,
      grantId: typeof payload.grantId === 'string' ? payload.grantId : null,
      uid: typeof payload.uid === 'string' ? payload.uid : null,
      expiresAt: expiry(expiresIn),
    };
    const q = await this.db();
    await q.delete(oidcRecords).where(and(eq(oidcRecords.model, this.model), lt(oidcRecords.expiresAt, new Date())));
    await q.insert(oidcRecords).values(row).onConflictDoUpdate({ target: [oidcRecords.model, oidcRecords.id], set: { payload: row.payload, grantId: row.grantId, uid: row.uid, expiresAt: row.expiresAt } });
  }

  private async findWhere(where: ReturnType<typeof eq>, id?: string): Promise<Payload | undefined> {
    const [row] = await (await this.db()).select().from(oidcRecords).where(and(eq(oidcRecords.model, this.model), where)).limit(1);
    const seen = this.lookups() ?? noLookups();
    if (!row) return undefined;
    if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) {
      seen.expired = true;
      return undefined;
    }
    if (row.payload.revoked === true) {
      seen.revoked = true;
      return undefined;
    }
    if (this.model === 'ReplayDetection') seen.replayed = true;
    const found = { ...row.payload, ...(id && credentials.has(this.model) ? { jti: id } : {}), ...(row.consumedAt ? { consumed: Math.floor(row.consumedAt.getTime() / 1000) } : {}) };
    if (presented.has(this.model)) {
      seen.credential = found;
      seen.consumed ||= Boolean(row.consumedAt);
    }
    return found;
  }

  find(id: string) {
    return this.findWhere(eq(oidcRecords.id, key(id)), id);
  }

  findByUid(uid: string) {
    return this.findWhere(eq(oidcRecords.uid, uid));
  }

  /** Device flow only, which Vigil does not offer. */
  async findByUserCode(): Promise<undefined> {
    return undefined;
  }

  /**
   * Marks a code or refresh token used, once: of two requests racing with the same one, the
   * second finds it already consumed and is refused as a reuse (oidc-provider then revokes the grant).
   */
  async consume(id: string): Promise<void> {
    const updated = await (await this.db())
      .update(oidcRecords)
      .set({ consumedAt: new Date() })
      .where(and(eq(oidcRecords.model, this.model), eq(oidcRecords.id, key(id)), isNull(oidcRecords.consumedAt)))
      .returning({ id: oidcRecords.id });
    if (updated.length > 0) return;
    const seen = this.lookups();
    if (seen) seen.consumed = true;
    const [row] = await (await this.db()).select({ grantId: oidcRecords.grantId }).from(oidcRecords).where(and(eq(oidcRecords.model, this.model), eq(oidcRecords.id, key(id)))).limit(1);
    if (row?.grantId) await endGrant(await this.db(), row.grantId);
    throw new errors.InvalidGrant(`${this.model === 'RefreshToken' ? 'refresh token already used' : 'authorization code already consumed'}`);
  }

  async destroy(id: string): Promise<void> {
    await (await this.db()).delete(oidcRecords).where(and(eq(oidcRecords.model, this.model), eq(oidcRecords.id, key(id))));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await endGrant(await this.db(), grantId);
  }
}

const revokedPayload = sql`${oidcRecords.payload} || '{"revoked": true}'::jsonb`;

/** Ends every record of one grant: the grant itself, its codes and refresh tokens. */
export async function endGrant(q: Queryable, grantId: string): Promise<void> {
  await q.update(oidcRecords).set({ payload: revokedPayload }).where(sql`(${oidcRecords.grantId} = ${grantId} OR (${oidcRecords.model} = 'Grant' AND ${oidcRecords.id} = ${key(grantId)}))`);
}

/** Ends every grant, code and refresh token of one client (the app was revoked). */
export async function endClientGrants(q: Queryable, clientId: string): Promise<void> {
  await q.update(oidcRecords).set({ payload: revokedPayload }).where(sql`${oidcRecords.payload}->>'clientId' = ${clientId}`);
}
