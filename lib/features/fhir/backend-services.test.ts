/**
 * SMART Backend Services with a generated key pair: an admin registers the client's public JWK
 * Set, its patients and sections; the client signs a private_key_jwt (ES384, then RS384), gets a
 * `system/*` token and reads exactly its grant. Every way an assertion must fail is refused and
 * audited; revoking the client and the monitor disabling its account end its tokens.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { and, eq, gt } from 'drizzle-orm';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { auditLog, incidents, smartApps, users } from '@/db/schema';
import { syntheticPatient } from '@/db/seed';
import type { Viewer } from '@/lib/domain/access/viewer';
import { findPatient } from '@/lib/features/admin/care-teams';
import { registerBackendClient, revokeSmartApp } from '@/lib/features/fhir/registry';
import { auditHead, later, minutes, testDatabase, viewer as signIn } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { BASE, expectValid, get, tokenRequest as postToken } from '@/test/fhir';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** The token endpoint's own URL, the audience SMART Backend Services names. */
const AUDIENCE = `${BASE.slice(0, -'/fhir/R4'.length)}/oauth/token`;
const mrn = (index: number) => syntheticPatient(index, 42).demographics.mrn;

let handle: TestDatabase;
let admin: Viewer;
let granted: string;
let other: string;
let es: { privateKey: CryptoKey; publicJwk: Record<string, unknown> };

async function keyPair(alg: 'ES384' | 'RS384', kid: string) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), alg, kid, use: 'sig' } };
}

async function register(clientId: string, keys: Record<string, unknown>[], mrns: string[], sections: string[]) {
  const result = await registerBackendClient(admin, { clientId, name: `Registry ${clientId}`, jwks: JSON.stringify({ keys }), patientMrns: mrns.join('\n'), sections });
  if (!result.ok) throw new Error(`${result.message} ${JSON.stringify(result.fieldErrors)}`);
}

function assertion(clientId: string, key: CryptoKey, alg: string, kid: string, { at = new Date(), lifetime = 240, audience = AUDIENCE, jti = randomUUID() } = {}) {
  const seconds = Math.floor(at.getTime() / 1000);
  return new SignJWT({ jti })
    .setProtectedHeader({ alg, kid, typ: 'JWT' })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(audience)
    .setExpirationTime(seconds + lifetime)
    .sign(key);
}

const tokenRequest = (signed: string, scope = 'system/*.read') =>
  postToken(new URLSearchParams({ grant_type: 'client_credentials', scope, client_assertion_type: ASSERTION_TYPE, client_assertion: signed }));

const refusals = async (since: number) =>
  (await handle.db.select().from(auditLog).where(and(gt(auditLog.seq, since), eq(auditLog.actionType, 'smart.backend_token'), eq(auditLog.outcome, 'denied')))).map((e) => (e.details as { reason: string }).reason);

beforeAll(async () => {
  handle = await testDatabase({ patients: 110 });
  admin = await signIn(handle.db, 'admin@vigil.test');
  const id = async (index: number) => {
    const found = await findPatient(admin, mrn(index));
    if (!found.ok) throw new Error(found.message);
    return found.value.patientId;
  };
  granted = await id(3);
  other = await id(4);
  es = await keyPair('ES384', 'es-1');
  await register('registry-es', [es.publicJwk], [mrn(3)], ['demographics', 'vitals']);
});

describe('client credentials with private_key_jwt', () => {
  it('a signed assertion gets a system token that reads only the granted patient and sections', async () => {
    const issued = await tokenRequest(await assertion('registry-es', es.privateKey, 'ES384', 'es-1'));
    expect(issued).toMatchObject({ status: 200, body: { token_type: 'Bearer', scope: 'system/*.rs' } });
    const token = String(issued.body.access_token);

    const patient = await get(token, `Patient/${granted}`);
    expect(patient.status).toBe(200);
    expectValid(patient.body);
    const vitals = await get(token, `Observation?patient=${granted}&category=vital-signs`);
    expect(vitals.status).toBe(200);
    expect((vitals.body as { total?: number }).total).toBeGreaterThan(0);
    // A section not granted, and a patient not granted: nothing, each refusal audited.
    const since = await auditHead(handle.db);
    expect((await get(token, `Condition?patient=${granted}`)).status).toBe(404);
    expect((await get(token, `Patient/${other}`)).status).toBe(404);
    const denied = await handle.db.select().from(auditLog).where(and(gt(auditLog.seq, since), eq(auditLog.actionType, 'fhir.read')));
    expect(denied.map((e) => [e.outcome, (e.details as { reason: string }).reason])).toEqual([
      ['denied', 'not_granted'],
      ['denied', 'not_granted'],
    ]);
    // Search finds the granted patient only; $everything holds only the granted sections.
    const search = await get(token, 'Patient');
    expect((search.body as { entry?: Array<{ resource: { id: string } }> }).entry?.map((e) => e.resource.id)).toEqual([granted]);
    const everything = await get(token, `Patient/${granted}/$everything?_count=100`);
    const types = new Set((everything.body as { entry?: Array<{ resource: { resourceType: string } }> }).entry?.map((e) => e.resource.resourceType));
    expect([...types].sort()).toEqual(['Observation', 'Patient']);
  });

  it('the reads carry the client’s service account in the trail', async () => {
    const [row] = await handle.db.select().from(smartApps).where(eq(smartApps.clientId, 'registry-es'));
    const token = String((await tokenRequest(await assertion('registry-es', es.privateKey, 'ES384', 'es-1'))).body.access_token);
    const since = await auditHead(handle.db);
    await get(token, `Patient/${granted}`);
    const [read] = await handle.db.select().from(auditLog).where(and(gt(auditLog.seq, since), eq(auditLog.actionType, 'fhir.read')));
    expect(read).toMatchObject({ userId: row!.serviceUserId, outcome: 'allowed', details: { client: 'registry-es' } });
  });

  it('refuses and audits a wrong key, an unregistered client, a reused jti, an expired, a too-far-future and a wrong-audience assertion', async () => {
    const stranger = await keyPair('ES384', 'es-1');
    const since = await auditHead(handle.db);
    expect(await tokenRequest(await assertion('registry-es', stranger.privateKey, 'ES384', 'es-1'))).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(await tokenRequest(await assertion('nobody-registered', stranger.privateKey, 'ES384', 'es-1'))).toMatchObject({ status: 401 });
    const jti = randomUUID();
    expect((await tokenRequest(await assertion('registry-es', es.privateKey, 'ES384', 'es-1', { jti }))).status).toBe(200);
    expect(await tokenRequest(await assertion('registry-es', es.privateKey, 'ES384', 'es-1', { jti }))).toMatchObject({ status: 401 });
    expect((await tokenRequest(await assertion('registry-es', es.privateKey, 'ES384', 'es-1', { at: later(new Date(), -minutes(10)) }))).status).toBe(401);
    expect((await tokenRequest(await assertion('registry-es', es.privateKey, 'ES384', 'es-1', { lifetime: 3600 }))).status).toBe(401);
    expect((await tokenRequest(await assertion('registry-es', es.privateKey, 'ES384', 'es-1', { audience: 'http://elsewhere.test/oauth/token' }))).status).toBe(401);
    expect(await tokenRequest(await assertion('registry-es', es.privateKey, 'ES384', 'es-1'), 'user/*.rs')).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
    expect(await refusals(since)).toEqual(['wrong_key', 'unknown_client', 'jti_replayed', 'assertion_expired', 'assertion_too_far_ahead', 'assertion_aud', 'no_system_scope']);
  });

  it('an RS384 key set works too; an HS256 or unsigned assertion does not', async () => {
    const rs = await keyPair('RS384', 'rs-1');
    await register('registry-rs', [rs.publicJwk], [mrn(4)], ['demographics']);
    const issued = await tokenRequest(await assertion('registry-rs', rs.privateKey, 'RS384', 'rs-1'));
    expect(issued.status).toBe(200);
    expect((await get(String(issued.body.access_token), `Patient/${other}`)).status).toBe(200);
    const hs = await new SignJWT({ jti: randomUUID() }).setProtectedHeader({ alg: 'HS256' }).setIssuer('registry-rs').setSubject('registry-rs').setAudience(AUDIENCE).setExpirationTime('2m').sign(new TextEncoder().encode('x'.repeat(32)));
    expect((await tokenRequest(hs)).status).toBe(401);
  });

  it('the admin form refuses a private key, and revoking the client ends its tokens', async () => {
    const { privateKey } = await generateKeyPair('ES384', { extractable: true });
    const refused = await registerBackendClient(admin, { clientId: 'leaky', name: 'Leaky client', jwks: JSON.stringify({ keys: [await exportJWK(privateKey)] }), patientMrns: mrn(3), sections: ['demographics'] });
    expect(refused).toMatchObject({ ok: false, error: 'invalid', fieldErrors: { jwks: expect.stringContaining('private key') } });

    const token = String((await tokenRequest(await assertion('registry-es', es.privateKey, 'ES384', 'es-1'))).body.access_token);
    expect((await get(token, `Patient/${granted}`)).status).toBe(200);
    const revoked = await revokeSmartApp(await signIn(handle.db, 'admin@vigil.test'), { clientId: 'registry-es' });
    expect(revoked.ok).toBe(true);
    expect((await get(token, `Patient/${granted}`)).status).toBe(401);
    expect((await tokenRequest(await assertion('registry-es', es.privateKey, 'ES384', 'es-1'))).status).toBe(401);
  });
});

describe('bulk pull by a backend client', () => {
  it('reading 100 charts in a minute opens a monitoring case and disables the client’s account, as for a person', async () => {
    const bulk = await keyPair('ES384', 'bulk-1');
    const indexes = Array.from({ length: 100 }, (_, i) => i);
    await register('bulk-puller', [bulk.publicJwk], indexes.map(mrn), ['demographics']);
    const [row] = await handle.db.select().from(smartApps).where(eq(smartApps.clientId, 'bulk-puller'));
    const token = String((await tokenRequest(await assertion('bulk-puller', bulk.privateKey, 'ES384', 'bulk-1'))).body.access_token);
    const statuses: number[] = [];
    for (const patientId of row!.grantedPatients) statuses.push((await get(token, `Patient/${patientId}`)).status);
    expect(statuses[0]).toBe(200);
    expect(statuses.at(-1)).toBe(401);
    const [account] = await handle.db.select().from(users).where(eq(users.id, row!.serviceUserId!));
    expect(account!.disabledAt).not.toBeNull();
    expect((await handle.db.select().from(incidents).where(eq(incidents.userId, row!.serviceUserId!))).length).toBeGreaterThan(0);
    // A contained client gets no new token either.
    expect((await tokenRequest(await assertion('bulk-puller', bulk.privateKey, 'ES384', 'bulk-1'))).status).toBe(401);
  });
});
