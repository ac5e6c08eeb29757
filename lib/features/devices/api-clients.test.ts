/**
 * Administering device-feed clients: the secret leaves the server once, in the issue result,
 * and only its hash is stored; issuing and revoking are for admins with a fresh password, and
 * every refusal is audited; a revoked client is refused by the vitals endpoint on its next request.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { rowsOf } from '@/db/client';
import { apiClients } from '@/db/schema';
import { DEMO_PASSWORD } from '@/db/seed';
import type { Viewer } from '@/lib/domain/access/viewer';
import { flushRefusals } from '@/lib/platform/audit';
import { advanceClock, resetClock } from '@/lib/platform/clock';
import { auditHead, auditOfActionSince, testDatabase, viewer as signIn } from '@/test/fixtures';
import { deviceKeyPair } from '@/test/devices';
import type { TestDatabase } from '@/test/db';
import { authenticateApiClient, issueApiClient, listApiClients, revokeApiClient } from '@/lib/features/devices/api-clients';
import { handleVitalsRequest, VITALS_ENDPOINT } from '@/lib/features/devices/vitals-endpoint';

const STALE = 6 * 60_000; // past the 5-minute re-authentication window

let handle: TestDatabase;
let admin: Viewer;
let nurse: Viewer;
let privacy: Viewer;

beforeAll(async () => {
  handle = await testDatabase({ patients: 10 });
  nurse = await signIn(handle.db, 'nurse@vigil.test');
  privacy = await signIn(handle.db, 'privacy@vigil.test');
});

beforeEach(async () => {
  admin = await signIn(handle.db, 'admin@vigil.test');
});

afterEach(() => resetClock());
afterAll(async () => handle?.close());

async function issue(name: string) {
  const issued = await issueApiClient(admin, { name, signingKey });
  if (!issued.ok) throw new Error(issued.message);
  return issued.value;
}

/** Any device's public key: these tests are about the credential, not the signature. */
const signingKey = deviceKeyPair().publicJwk;

const auditsSince = (seq: number, action: string) => auditOfActionSince(handle.db, seq, action);

/** Everything the database holds as text: the audit log and the clients table. */
async function databaseText(): Promise<string> {
  const result = await handle.db.execute(sql`SELECT (SELECT coalesce(string_agg(a::text, '|'), '') FROM audit_log a) || (SELECT string_agg(c::text, '|') FROM api_clients c) AS t`);
  return rowsOf<{ t: string }>(result)[0]!.t;
}

/** A vitals request with no audit id: 401 if the client is refused, 403 once it is authenticated. */
const probe = (credential: string) =>
  handleVitalsRequest({ authorization: `Bearer ${credential}`, auditId: null, readBody: async () => '', ip: '10.0.0.9', userAgent: 'monitor/1.0' });

describe('issuing a client', () => {
  it('returns the credential once; the database keeps only the SHA-256 of its secret; the list and the audit trail never show it', async () => {
    const since = await auditHead(handle.db);
    const { client, credential } = await issue('Ward 3 bedside monitors');
    const [id, secret] = credential.split('.');
    expect(id).toBe(client.id);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const [row] = await handle.db.select().from(apiClients).where(eq(apiClients.id, client.id));
    expect(row!.secretHash).toBe(createHash('sha256').update(secret!, 'utf8').digest('base64url'));
    expect(await databaseText()).not.toContain(secret);

    const list = await listApiClients(admin);
    if (!list.ok) throw new Error(list.message);
    const listed = list.value.find((c) => c.id === client.id);
    expect(listed).toEqual({ id: client.id, name: 'Ward 3 bedside monitors', createdAt: expect.any(String), createdBy: 'admin@vigil.test', revokedAt: null, patients: 0, signed: true });
    expect(row!.signingKey, 'only the public members of the key are stored').toEqual({ kty: 'OKP', crv: 'Ed25519', x: signingKey.x });
    expect(JSON.stringify(list)).not.toContain(secret);
    expect(JSON.stringify(list)).not.toContain(row!.secretHash);

    const [entry] = await auditsSince(since, 'api_client.issue');
    expect(entry).toMatchObject({ userId: admin.userId, outcome: 'allowed', resourceType: 'api_client', resourceId: client.id, details: { after: { name: 'Ward 3 bedside monitors', revoked: false } } });
    expect(await authenticateApiClient(`Bearer ${credential}`)).toEqual(client);
  });

  it('each client gets its own random secret', async () => {
    const a = await issue('Ward 4 monitors');
    const b = await issue('Ward 4 monitors');
    expect(a.credential.split('.')[1]).not.toBe(b.credential.split('.')[1]);
  });

  it('refuses a name outside 3–100 characters and stores nothing', async () => {
    const before = (await handle.db.select().from(apiClients)).length;
    for (const name of ['  ', 'ab', 'x'.repeat(101), undefined]) {
      expect(await issueApiClient(admin, { name, signingKey }), String(name)).toMatchObject({
        ok: false,
        error: 'invalid',
        fieldErrors: { name: 'Name the client in 3 to 100 characters.' },
      });
    }
    expect((await handle.db.select().from(apiClients)).length).toBe(before);
  });
});

describe('who may administer clients', () => {
  it('refuses clinicians and privacy officers to list, issue and revoke, audits each refusal, and changes nothing', async () => {
    const { client, credential } = await issue('Ward 5 monitors');
    const since = await auditHead(handle.db);
    const count = (await handle.db.select().from(apiClients)).length;
    for (const viewer of [nurse, privacy]) {
      expect(await listApiClients(viewer)).toMatchObject({ ok: false, error: 'denied' });
      expect(await issueApiClient(viewer, { name: 'Rogue feed', signingKey, adminPassword: DEMO_PASSWORD })).toMatchObject({ ok: false, error: 'denied' });
      expect(await revokeApiClient(viewer, { clientId: client.id, adminPassword: DEMO_PASSWORD })).toMatchObject({ ok: false, error: 'denied' });
    }
    expect((await handle.db.select().from(apiClients)).length).toBe(count);
    expect((await probe(credential)).status).toBe(403); // still authenticated: not revoked
    for (const action of ['api_client.view', 'api_client.issue', 'api_client.revoke']) {
      const entries = await auditsSince(since, action);
      expect(entries.map((e) => [e.userId, e.outcome]), action).toEqual([
        [privacy.userId, 'denied'],
        [nurse.userId, 'denied'],
      ]);
    }
    expect((await auditsSince(since, 'api_client.revoke'))[0]?.resourceId).toBe(client.id);
  });

  it('issuing and revoking need the password again after the re-authentication window', async () => {
    const { client, credential } = await issue('Ward 6 monitors');
    advanceClock(STALE);
    const since = await auditHead(handle.db);
    expect(await issueApiClient(admin, { name: 'Late feed', signingKey })).toMatchObject({ ok: false, error: 'reauth_required' });
    expect(await revokeApiClient(admin, { clientId: client.id })).toMatchObject({ ok: false, error: 'reauth_required' });
    expect(await revokeApiClient(admin, { clientId: client.id, adminPassword: 'not my password' })).toMatchObject({ ok: false, error: 'reauth_failed' });
    expect((await probe(credential)).status).toBe(403);
    expect((await auditsSince(since, 'api_client.revoke')).map((e) => (e.details as { reason?: string }).reason)).toEqual(['reauth_failed', 'reauth_required']);
    expect((await auditsSince(since, 'api_client.issue')).map((e) => (e.details as { reason?: string }).reason)).toEqual(['reauth_required']);
    expect(await revokeApiClient(admin, { clientId: client.id, adminPassword: DEMO_PASSWORD })).toMatchObject({ ok: true });
  });
});

describe('revoking a client', () => {
  it('is refused by POST /api/phi/vitals from its next request (401, audited), and shows as revoked', async () => {
    const { client, credential } = await issue('Ward 7 monitors');
    expect(await probe(credential)).toEqual({ status: 403, body: { error: 'audit trail required' } });

    const since = await auditHead(handle.db);
    const revoked = await revokeApiClient(admin, { clientId: client.id });
    expect(revoked).toMatchObject({ ok: true, message: 'Revoked Ward 7 monitors: its requests are refused from now on.' });
    const [entry] = await auditsSince(since, 'api_client.revoke');
    expect(entry).toMatchObject({ outcome: 'allowed', resourceId: client.id, details: { before: { revoked: false }, after: { revoked: true } } });

    expect(await probe(credential)).toEqual({ status: 401, body: { error: 'client not authenticated' } });
    // A request from no authenticated client is tallied, and reaches the trail when its interval closes.
    await flushRefusals({ all: true });
    const [refusal] = await auditsSince(since, VITALS_ENDPOINT);
    expect(refusal).toMatchObject({ outcome: 'denied', details: { aggregated: true, count: 1, reasons: { unauthenticated: 1 } } });

    const list = await listApiClients(admin);
    expect(list.ok && list.value.find((c) => c.id === client.id)?.revokedAt).toEqual(expect.any(String));
  });

  it('revoking twice changes nothing the second time; an unknown or malformed id is not found', async () => {
    const { client } = await issue('Ward 8 monitors');
    expect(await revokeApiClient(admin, { clientId: client.id })).toMatchObject({ ok: true });
    const since = await auditHead(handle.db);
    expect(await revokeApiClient(admin, { clientId: client.id })).toMatchObject({ ok: true, message: 'Ward 8 monitors was already revoked.' });
    expect(await auditsSince(since, 'api_client.revoke')).toEqual([]);
    expect(await revokeApiClient(admin, { clientId: crypto.randomUUID() })).toMatchObject({ ok: false, error: 'not_found' });
    expect(await revokeApiClient(admin, { clientId: 'not-an-id' })).toMatchObject({ ok: false, error: 'not_found' });
  });
});
