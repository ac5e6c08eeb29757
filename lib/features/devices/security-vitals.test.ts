/**
 * The PHI machine API (`POST /api/phi/vitals`): message-level encryption inside TLS. Only a
 * compact JWE to the portal's key from an issued, unrevoked client with an audit id is
 * accepted; everything else is refused with the documented status and sentence, and audited.
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
import { issueApiClient, portalPublicJwk, revokeApiClient } from '@/lib/features/devices/api-clients';
import { handleVitalsRequest, MAX_BODY_BYTES, type VitalsRequest } from '@/lib/features/devices/vitals-endpoint';
import { flushRefusals } from '@/lib/platform/audit';

let handle: TestDatabase;
let admin: Viewer;
let nurse: Viewer;
let patientId: string;
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

async function encrypt(payload: unknown, jwk = portalPublicJwk()): Promise<string> {
  const key = await importJWK(jwk, 'ECDH-ES+A256KW');
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM' })
    .encrypt(key);
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
  const issued = await issueApiClient(admin, { name: 'Ward 3 bedside monitors' });
  if (!issued.ok) throw new Error(issued.message);
  credential = issued.value.credential;
  clientId = issued.value.client.id;
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
    const body = await encrypt({ patientId, vitals: reading() });
    const since = await auditHead(handle.db);
    const read = bodiesRead;
    for (const authorization of [null, 'Bearer nonsense', `Bearer ${clientId}.${'A'.repeat(43)}`, `Basic ${credential}`]) {
      expect((await send({ authorization, body })).status).toBe(401);
    }
    expect(bodiesRead).toBe(read); // nobody's body is read before the client is known
    const second = await issueApiClient(admin, { name: 'Temporary feed' });
    if (!second.ok) throw new Error(second.message);
    expect((await send({ authorization: `Bearer ${second.value.credential}`, body })).status).toBe(201);
    expect((await revokeApiClient(admin, { clientId: second.value.client.id })).ok).toBe(true);
    expect((await send({ authorization: `Bearer ${second.value.credential}`, body })).status).toBe(401);
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
    expect((await send({ body: await encrypt({ patientId: crypto.randomUUID(), vitals: reading() }) })).status).toBe(404);
  });

  it('lets only admins issue and revoke clients', async () => {
    expect((await issueApiClient(nurse, { name: 'Rogue feed' })).ok).toBe(false);
    expect((await revokeApiClient(nurse, { clientId })).ok).toBe(false);
    expect((await send({ body: await encrypt({ patientId, vitals: reading() }) })).status).toBe(201);
  });
});
