/**
 * The PHI machine API (`POST /api/phi/vitals`): message-level encryption inside TLS, and the
 * sender's signature inside that. Only a compact JWE to the portal's key, holding a JWS the
 * issued, unrevoked client signed for this endpoint within its window, with a message id not
 * seen before, for a patient the client serves, with an audit id, is accepted; everything else is
 * refused with the documented status and sentence, and audited.
 */
import { generateKeyPairSync } from 'node:crypto';
import { and, desc, eq, gt } from 'drizzle-orm';
import { CompactEncrypt, importJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, vitals } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { getChart } from '@/lib/features/records';
import { auditHead, patientOnTeamOf, testDatabase, viewer } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { deviceKeyPair, issueDevice, mrnOf, sealed, type IssuedDevice } from '@/test/devices';
import { issueApiClient, portalPublicJwk, revokeApiClient, setApiClientPatients } from '@/lib/features/devices/api-clients';
import { TAKEN_AT_MAX_AGE_MS } from '@/lib/features/devices/device-vitals';
import { handleVitalsRequest, MAX_BODY_BYTES, type VitalsRequest } from '@/lib/features/devices/vitals-endpoint';
import { flushRefusals, REFUSAL_INTERVAL_MS } from '@/lib/platform/audit';
import { advanceClock, now } from '@/lib/platform/clock';

let handle: TestDatabase;
let admin: Viewer;
let nurse: Viewer;
let patientId: string;
let otherPatientId: string;
let device: IssuedDevice;
let credential: string;
let clientId: string;

const reading = () => ({
  takenAt: new Date().toISOString(),
  heartRate: 61,
  systolic: 121,
  diastolic: 79,
  temperatureC: 36.9,
  respiratoryRate: 15,
  spo2: 97,
});

/** A reading as the issued device sends it: signed with its key, encrypted to the portal's. */
const encrypt = (payload: { patientId: string; vitals: unknown }, jwk = portalPublicJwk()) => sealed(device, payload, {}, jwk);

/** The old format, and what anyone holding only the portal's public key can make: encrypted, not signed. */
async function unsignedJwe(payload: unknown): Promise<string> {
  const key = await importJWK(portalPublicJwk(), 'ECDH-ES+A256KW');
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM' }).encrypt(key);
}

type Sent = Partial<Omit<VitalsRequest, 'readBody'>> & { body?: string };
let bodiesRead = 0;
const send = ({ body = '', ...overrides }: Sent) =>
  handleVitalsRequest({
    authorization: `Bearer ${credential}`,
    auditId: 'device-42:msg-0001',
    readBody: async () => {
      bodiesRead += 1;
      return body;
    },
    ip: '10.0.0.9',
    userAgent: 'monitor/1.0',
    ...overrides,
  });

async function deniedAuditSince(seq: number) {
  return handle.db
    .select()
    .from(auditLog)
    .where(and(gt(auditLog.seq, seq), eq(auditLog.actionType, 'api.phi.vitals'), eq(auditLog.outcome, 'denied')))
    .orderBy(desc(auditLog.seq));
}

beforeAll(async () => {
  handle = await testDatabase({ patients: 12 });
  admin = await viewer(handle.db, 'admin@vigil.test');
  nurse = await viewer(handle.db, 'nurse@vigil.test');
  patientId = await patientOnTeamOf(handle.db, nurse.userId);
  const [other] = (await handle.db.select({ id: vitals.patientId }).from(vitals)).map((r) => r.id).filter((id) => id !== patientId);
  otherPatientId = other!;
  device = await issueDevice(handle.db, admin, 'Ward 3 bedside monitors', [patientId]);
  ({ credential, clientId } = device);
});
afterAll(async () => handle?.close());

describe('POST /api/phi/vitals', () => {
  it('accepts an encrypted reading from an issued client; it lands in the chart and the audit trail', async () => {
    const response = await send({ body: await encrypt({ patientId, vitals: reading() }) });
    expect(response.status).toBe(201);
    const id = response.body.id as string;
    const chart = await getChart(nurse, patientId);
    if (!chart.ok) throw new Error('nurse lost access');
    const { vitals: section } = chart.value.sections;
    const entry = section?.status === 'ok' ? section.entries.find((e) => e.id === id) : undefined;
    expect(entry?.body.heartRate).toBe(61);
    const [audit] = await handle.db.select().from(auditLog).where(eq(auditLog.resourceId, id));
    expect(audit).toMatchObject({ actionType: 'vitals.device_create', outcome: 'allowed', patientId, userId: null });
    expect(audit!.details).toMatchObject({ apiClientId: clientId, auditId: 'device-42:msg-0001' });
  });

  it('refuses a missing audit id with 403 "audit trail required", audited', async () => {
    const since = await auditHead(handle.db);
    const response = await send({ auditId: null, body: await encrypt({ patientId, vitals: reading() }) });
    expect(response).toEqual({ status: 403, body: { error: 'audit trail required' } });
    expect((await deniedAuditSince(since))[0]?.details).toMatchObject({ reason: 'no_audit_id' });
  });

  it('refuses plaintext PHI with 400 "unencrypted PHI rejected", audited, and stores nothing', async () => {
    const since = await auditHead(handle.db);
    const count = (await handle.db.select().from(vitals)).length;
    for (const body of [JSON.stringify({ patientId, vitals: reading() }), 'heartRate=61&patientId=x', '', 'a.b.c']) {
      const response = await send({ body });
      expect(response).toEqual({ status: 400, body: { error: 'unencrypted PHI rejected' } });
    }
    expect(await deniedAuditSince(since)).toHaveLength(4);
    expect((await handle.db.select().from(vitals)).length).toBe(count);
  });

  it('refuses unknown, malformed and revoked credentials with 401, audited', async () => {
    // All five refusals in one tally interval: start just after an interval boundary, so a slow
    // machine crossing a minute mark cannot split them into two entries.
    advanceClock(REFUSAL_INTERVAL_MS - (now().getTime() % REFUSAL_INTERVAL_MS) + 1_000);
    const body = await encrypt({ patientId, vitals: reading() });
    const since = await auditHead(handle.db);
    const read = bodiesRead;
    for (const authorization of [null, 'Bearer nonsense', `Bearer ${clientId}.${'A'.repeat(43)}`, `Basic ${credential}`]) {
      expect((await send({ authorization, body })).status).toBe(401);
    }
    expect(bodiesRead).toBe(read); // nobody's body is read before the client is known
    const second = await issueDevice(handle.db, admin, 'Temporary feed', [patientId]);
    expect((await send({ authorization: `Bearer ${second.credential}`, body: await sealed(second, { patientId, vitals: reading() }) })).status).toBe(201);
    expect((await revokeApiClient(admin, { clientId: second.clientId })).ok).toBe(true);
    expect((await send({ authorization: `Bearer ${second.credential}`, body: await sealed(second, { patientId, vitals: reading() }) })).status).toBe(401);
    // Refusals of no authenticated client: one entry for the address and interval, with the count.
    await flushRefusals({ all: true });
    const tallied = await deniedAuditSince(since);
    expect(tallied).toHaveLength(1);
    expect(tallied[0]).toMatchObject({ ip: '10.0.0.9', details: { aggregated: true, count: 5, reasons: { unauthenticated: 5 } } });
  });

  it('refuses a body past the cap with 413 once the client is known, audited with the client', async () => {
    const since = await auditHead(handle.db);
    const response = await handleVitalsRequest({ authorization: `Bearer ${credential}`, auditId: 'device-42:msg-0002', readBody: async () => null, ip: '10.0.0.9', userAgent: null });
    expect(response).toEqual({ status: 413, body: { error: 'payload too large' } });
    expect((await send({ body: 'x'.repeat(MAX_BODY_BYTES + 1) })).status).toBe(413);
    const denied = await deniedAuditSince(since);
    expect(denied.map((e) => [e.resourceId, (e.details as { reason?: string }).reason])).toEqual([
      [clientId, 'too_large'],
      [clientId, 'too_large'],
    ]);
  });

  it('refuses a JWE to another key, a tampered JWE and an invalid reading', async () => {
    const { publicKey } = generateKeyPairSync('x25519');
    const other = await encrypt({ patientId, vitals: reading() }, { ...publicKey.export({ format: 'jwk' }) });
    expect((await send({ body: other })).status).toBe(400);
    const good = await encrypt({ patientId, vitals: reading() });
    const parts = good.split('.');
    parts[3] = parts[3]!.slice(0, -2) + (parts[3]!.endsWith('AA') ? 'BB' : 'AA');
    expect((await send({ body: parts.join('.') })).body).toEqual({ error: 'payload could not be decrypted' });
    expect((await send({ body: await encrypt({ patientId, vitals: { ...reading(), heartRate: 999 } }) })).status).toBe(422);
  });

  it('lets only admins issue and revoke clients', async () => {
    expect((await issueApiClient(nurse, { name: 'Rogue feed', signingKey: deviceKeyPair().publicJwk })).ok).toBe(false);
    expect((await revokeApiClient(nurse, { clientId })).ok).toBe(false);
    expect((await send({ body: await encrypt({ patientId, vitals: reading() }) })).status).toBe(201);
  });
});

describe('the sender is authenticated: sign, then encrypt', () => {
  it('refuses an encrypted reading that is not signed (the old format), audited as unsigned', async () => {
    const since = await auditHead(handle.db);
    expect(await send({ body: await unsignedJwe({ patientId, vitals: reading() }) })).toEqual({ status: 401, body: { error: 'payload is not signed by this client' } });
    expect((await deniedAuditSince(since))[0]?.details).toMatchObject({ reason: 'unsigned' });
  });

  it('refuses a reading signed by another key, or by another client, under this credential', async () => {
    const stranger = { credential, signingJwk: deviceKeyPair().privateJwk };
    expect((await send({ body: await sealed(stranger, { patientId, vitals: reading() }) })).status).toBe(401);
    const other = await issueDevice(handle.db, admin, 'Ward 9 monitors', [patientId]);
    // Signed by the other client's key and naming it as issuer, sent with this client's credential.
    expect((await send({ body: await sealed(other, { patientId, vitals: reading() }) })).body).toEqual({ error: 'payload is not signed by this client' });
    // Signed with this client's key for another audience.
    expect((await send({ body: await sealed(device, { patientId, vitals: reading() }, { aud: 'urn:elsewhere' }) })).status).toBe(401);
  });

  it('accepts a P-256 (ES256) device key as well as Ed25519', async () => {
    const keys = deviceKeyPair('p256');
    const issued = await issueApiClient(admin, { name: 'Ward 10 monitors', signingKey: keys.publicJwk, patients: await mrnOf(handle.db, patientId) });
    if (!issued.ok) throw new Error(issued.message);
    const p256 = { credential: issued.value.credential, signingJwk: keys.privateJwk };
    expect((await send({ authorization: `Bearer ${p256.credential}`, body: await sealed(p256, { patientId, vitals: reading() }) })).status).toBe(201);
  });

  it('refuses to store a private key pasted as the signing key, or something that is no key', async () => {
    const { privateJwk } = deviceKeyPair();
    for (const signingKey of [privateJwk, '{"kty":"RSA","n":"abc","e":"AQAB"}', 'not a key']) {
      expect(await issueApiClient(admin, { name: 'Pasted wrong', signingKey }), JSON.stringify(signingKey).slice(0, 20)).toMatchObject({ ok: false, error: 'invalid' });
    }
  });
});

describe('replays and time windows', () => {
  it('accepts a message id once: the same signed message sent again is refused with 409 and audited', async () => {
    const body = await sealed(device, { patientId, vitals: reading() }, { jti: 'replay-test-0001' });
    expect((await send({ body })).status).toBe(201);
    const since = await auditHead(handle.db);
    expect(await send({ body })).toEqual({ status: 409, body: { error: 'message already received' } });
    // A new encryption of the same signed content is the same message.
    expect((await send({ body: await sealed(device, { patientId, vitals: reading() }, { jti: 'replay-test-0001' }) })).status).toBe(409);
    expect((await deniedAuditSince(since)).map((e) => (e.details as { reason: string }).reason)).toEqual(['replayed', 'replayed']);
  });

  it('refuses a message signed too long ago, one from the future, and one whose window is longer than allowed', async () => {
    const nowS = Math.floor(Date.now() / 1000);
    for (const claims of [{ iat: nowS - 600, exp: nowS - 300 }, { iat: nowS + 600, exp: nowS + 900 }, { iat: nowS, exp: nowS + 86_400 }]) {
      expect(await send({ body: await sealed(device, { patientId, vitals: reading() }, claims) }), JSON.stringify(claims)).toEqual({ status: 401, body: { error: 'message is outside its time window' } });
    }
  });

  it('bounds takenAt: not from the future, not older than the buffering window', async () => {
    const at = (ms: number) => ({ ...reading(), takenAt: new Date(Date.now() + ms).toISOString() });
    expect((await send({ body: await encrypt({ patientId, vitals: at(60 * 60_000) }) })).status).toBe(422);
    expect((await send({ body: await encrypt({ patientId, vitals: at(-TAKEN_AT_MAX_AGE_MS - 60_000) }) })).status).toBe(422);
    expect((await send({ body: await encrypt({ patientId, vitals: at(-60 * 60_000) }) })).status).toBe(201);
  });
});

describe('each client writes only into the charts it serves', () => {
  it('gives the same answer for a patient that does not exist and one it does not serve, and writes neither; the trail knows which', async () => {
    const before = (await handle.db.select().from(vitals)).length;
    const since = await auditHead(handle.db);
    const missing = await send({ body: await encrypt({ patientId: crypto.randomUUID(), vitals: reading() }) });
    const notServed = await send({ body: await encrypt({ patientId: otherPatientId, vitals: reading() }) });
    expect(missing).toEqual({ status: 403, body: { error: 'patient is not served by this client' } });
    expect(notServed).toEqual(missing);
    expect((await handle.db.select().from(vitals)).length).toBe(before);
    const denied = await handle.db.select().from(auditLog).where(and(gt(auditLog.seq, since), eq(auditLog.actionType, 'vitals.device_create')));
    expect(denied.map((e) => [e.outcome, (e.details as { reason: string }).reason, e.patientId])).toEqual([
      ['denied', 'not_found', null],
      ['denied', 'not_served', otherPatientId],
    ]);
  });

  it('follows the admin: adding the patient lets the feed write there, taking it away stops the next reading', async () => {
    const mrns = [await mrnOf(handle.db, patientId), await mrnOf(handle.db, otherPatientId)];
    expect(await setApiClientPatients(admin, { clientId, patients: mrns.join('\n') })).toMatchObject({ ok: true, value: { patients: 2 } });
    expect((await send({ body: await encrypt({ patientId: otherPatientId, vitals: reading() }) })).status).toBe(201);
    expect((await setApiClientPatients(admin, { clientId, patients: mrns[0]! })).ok).toBe(true);
    expect((await send({ body: await encrypt({ patientId: otherPatientId, vitals: reading() }) })).status).toBe(403);
    expect(await setApiClientPatients(admin, { clientId, patients: `${mrns[0]}\n99999999999` })).toMatchObject({ ok: false, error: 'invalid', message: 'Line 2: no patient has that MRN.' });
    expect(await setApiClientPatients(nurse, { clientId, patients: mrns.join('\n') })).toMatchObject({ ok: false });
  });
});
