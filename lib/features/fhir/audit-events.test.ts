/**
 * Privacy officers' apps search the audit trail as FHIR AuditEvents: found by patient, date range,
 * agent and action, paged by cursor with every match exactly once (also while the trail grows),
 * each resource valid R4; refused, as the portal refuses, to a clinician's token and to a token
 * without an AuditEvent scope; and every search and read is itself recorded.
 */
import { randomUUID } from 'node:crypto';
import { and, asc, eq, gt, gte, lte } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent, Bundle, OperationOutcome } from '@medplum/fhirtypes';
import { auditLog } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { auditTrailDenied } from '@/lib/features/audit-review/query';
import { capabilityStatement } from '@/lib/features/fhir/capability';
import { appendOne, syntheticEvent } from '@/test/audit-fixtures';
import { auditHead, auditOfActionSince, createStaff, patientOnTeamOf, testDatabase, viewer as signIn } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { APP, BASE, expectValid, get, tokenFor } from '@/test/fhir';

let handle: TestDatabase;
let privacy: Viewer;
let physician: Viewer;
const patient = randomUUID();
const otherPatient = randomUUID();
const hour = (h: number) => new Date(Date.UTC(2026, 2, 1, h, 0, 0));

const events = (bundle: Bundle) => (bundle.entry ?? []).map((e) => e.resource as AuditEvent);
const next = (bundle: Bundle) => bundle.link?.find((l) => l.relation === 'next')?.url?.slice(BASE.length + 1);

/** Follows next links from `path` to the end; `between` runs before each further page. */
async function pageThrough(token: string, path: string, between: () => Promise<void> = async () => {}): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let url: string | undefined = path;
  let pages = 0;
  while (url) {
    if (pages > 0) await between();
    const page = await get(token, url);
    expect(page.status, url).toBe(200);
    const bundle = page.body as Bundle;
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
    for (const event of events(bundle)) {
      expectValid(event);
      ids.push(event.id!);
    }
    url = next(bundle);
    pages += 1;
  }
  return { ids, pages };
}

beforeAll(async () => {
  // A few patients, so an officer can be put on a care team (a launch patient must be theirs).
  handle = await testDatabase({ patients: 4 });
  privacy = await signIn(handle.db, 'privacy@vigil.test');
  physician = await signIn(handle.db, 'physician@vigil.test');
  // Twelve hours of entries for the patient and, at the same instants, for another patient.
  for (let h = 0; h < 12; h++) {
    for (const patientId of [patient, otherPatient]) {
      await appendOne(handle.db, syntheticEvent(h, { actor: { userId: physician.userId, ip: '127.0.0.1', userAgent: 'vitest' }, patientId, occurredAt: hour(h) }));
    }
  }
});

/** The log ids the trail holds for the patient between two instants (both included), newest first. */
async function expectedIds(from: Date, to: Date): Promise<string[]> {
  const rows = await handle.db
    .select({ logId: auditLog.logId })
    .from(auditLog)
    .where(and(eq(auditLog.patientId, patient), gte(auditLog.occurredAt, from), lte(auditLog.occurredAt, to)))
    .orderBy(asc(auditLog.occurredAt), asc(auditLog.seq));
  return rows.map((r) => r.logId).reverse();
}

describe('a privacy officer searches AuditEvent', () => {
  it('finds the entries of one patient in a date range, newest first, each exactly once across pages, and the search is recorded', async () => {
    const token = await tokenFor(privacy, 'user/AuditEvent.rs');
    const expected = await expectedIds(hour(2), hour(8));
    expect(expected).toHaveLength(7);
    const since = await auditHead(handle.db);
    const { ids, pages } = await pageThrough(token, `AuditEvent?patient=Patient/${patient}&date=ge2026-03-01T02:00:00Z&date=le2026-03-01T08:00:00Z&_count=3`);
    expect(pages).toBe(3);
    expect(ids).toEqual(expected);
    const searches = await auditOfActionSince(handle.db, since, 'audit.search');
    expect(searches).toHaveLength(3);
    for (const entry of searches) {
      expect(entry).toMatchObject({ userId: privacy.userId, outcome: 'allowed', details: { patient, client: APP, from: hour(2).toISOString() } });
    }
  });

  it('pages stay exact while the trail grows: entries written between pages neither repeat nor shift a match', async () => {
    const token = await tokenFor(privacy, 'user/AuditEvent.rs');
    const expected = await expectedIds(hour(0), new Date('2100-01-01T00:00:00Z'));
    let late = 0;
    const { ids } = await pageThrough(token, `AuditEvent?patient=${patient}&date=ge2026-03-01&_count=2`, async () => {
      late += 1;
      await appendOne(handle.db, syntheticEvent(100 + late, { patientId: patient, occurredAt: new Date() }));
    });
    expect(late).toBeGreaterThan(2);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expected);
  });

  it('by agent, action and subtype: only the entries whose exported AuditEvent says so', async () => {
    const token = await tokenFor(privacy, 'user/AuditEvent.rs');
    // A FHIR search by the physician: a RESTful search-type event (action E) with the patient.
    await get(await tokenFor(physician), `Patient?_id=${randomUUID()}`);
    const byAgent = events((await get(token, `AuditEvent?agent:identifier=urn:vigil:user|${physician.userId}&_count=100`)).body as Bundle);
    expect(byAgent.length).toBeGreaterThan(12);
    expect(byAgent.every((e) => e.agent[0]!.who?.identifier?.value === physician.userId)).toBe(true);
    expect(events((await get(token, `AuditEvent?agent=${physician.userId}&_count=100`)).body as Bundle).map((e) => e.id)).toEqual(byAgent.map((e) => e.id));
    for (const action of ['R', 'E'] as const) {
      const found = events((await get(token, `AuditEvent?agent=${physician.userId}&action=${action}&_count=100`)).body as Bundle);
      expect(found.length, action).toBeGreaterThan(0);
      expect(found.every((e) => e.action === action), action).toBe(true);
      expect(found.length, action).toBe(byAgent.filter((e) => e.action === action).length);
    }
    const searches = events((await get(token, `AuditEvent?subtype=urn:vigil:audit-action|fhir.search&agent=${physician.userId}`)).body as Bundle);
    expect(searches).toHaveLength(1);
    expect(searches[0]!.subtype).toEqual(expect.arrayContaining([expect.objectContaining({ system: 'http://hl7.org/fhir/restful-interaction', code: 'search-type' })]));
    expect(events((await get(token, `AuditEvent?agent=${physician.userId}&outcome=4`)).body as Bundle)).toEqual([]);
  });

  it('reads one AuditEvent by id, recorded as an entry view; an unknown id is a 404', async () => {
    const token = await tokenFor(privacy, 'user/*.rs');
    const [first] = events((await get(token, `AuditEvent?patient=${patient}&_count=1`)).body as Bundle);
    const since = await auditHead(handle.db);
    const read = await get(token, `AuditEvent/${first!.id}`);
    expect(read).toMatchObject({ status: 200, body: { resourceType: 'AuditEvent', id: first!.id } });
    expectValid(read.body);
    const [viewEntry] = await auditOfActionSince(handle.db, since, 'audit.entry.view');
    expect(viewEntry).toMatchObject({ userId: privacy.userId, outcome: 'allowed', details: { client: APP } });
    expect(viewEntry!.resourceId).toMatch(/^\d+$/);
    expect((await get(token, `AuditEvent/${randomUUID()}`)).status).toBe(404);
  });

  it('unsupported, repeated or malformed parameters are refused without echoing the value', async () => {
    const token = await tokenFor(privacy, 'user/AuditEvent.rs');
    for (const query of ['address=10.0.0.1', `patient=${patient}&patient=${otherPatient}`, 'date=ne2026-03-01', 'agent=Smith', 'action=X', '_cursor=Smith', 'subtype=http://x|chart.view']) {
      const refused = await get(token, `AuditEvent?${query}`);
      expect(refused.status, query).toBe(400);
      expect((refused.body as OperationOutcome).issue[0]!.diagnostics, query).not.toMatch(/Smith|10\.0\.0\.1|ne2026/);
    }
  });
});

describe('everyone else gets the portal’s answer', () => {
  it('a clinician’s token, even with the AuditEvent scope, is refused with a 403 OperationOutcome, and the attempt is recorded', async () => {
    for (const scope of ['user/AuditEvent.rs', 'user/*.rs']) {
      const token = await tokenFor(physician, scope);
      for (const path of [`AuditEvent?patient=${patient}`, `AuditEvent/${randomUUID()}`]) {
        const since = await auditHead(handle.db);
        const refused = await get(token, path);
        expect(refused, `${scope} ${path}`).toMatchObject({ status: 403, body: { resourceType: 'OperationOutcome', issue: [{ code: 'forbidden', diagnostics: auditTrailDenied }] } });
        const entries = await handle.db.select().from(auditLog).where(and(gt(auditLog.seq, since), eq(auditLog.userId, physician.userId)));
        expect(entries, `${scope} ${path}`).toEqual([expect.objectContaining({ userId: physician.userId, outcome: 'denied', actionType: path.includes('?') ? 'audit.search' : 'audit.entry.view' })]);
      }
    }
  });

  it('a privacy officer’s token without an AuditEvent scope is refused and the attempt recorded', async () => {
    // A launch patient must be one the officer is tied to when the app is authorized: an officer who is also on a care team.
    const charted = await patientOnTeamOf(handle.db, physician.userId);
    const staff = await createStaff(handle.db, { roles: ['privacy_officer', 'physician'], careTeam: [{ patientId: charted, relationship: 'attending' }] });
    const officer = await signIn(handle.db, staff.email);
    for (const scope of ['user/Patient.rs', 'patient/*.rs launch/patient']) {
      const token = await tokenFor(officer, scope, { patient: charted });
      const since = await auditHead(handle.db);
      const refused = await get(token, `AuditEvent?patient=${patient}`);
      expect(refused, scope).toMatchObject({ status: 403, body: { resourceType: 'OperationOutcome', issue: [{ code: 'forbidden' }] } });
      const [entry] = await auditOfActionSince(handle.db, since, 'audit.search');
      expect(entry, scope).toMatchObject({ userId: officer.userId, outcome: 'denied', details: { reason: 'no_permission' } });
    }
  });

  it('a request without a valid token is refused before anything is searched', async () => {
    expect(await get(null, `AuditEvent?patient=${patient}`)).toMatchObject({ status: 401, body: { resourceType: 'OperationOutcome' } });
  });
});

it('the CapabilityStatement names AuditEvent with exactly the parameters served', () => {
  const statement = capabilityStatement(BASE, new Date());
  expectValid(statement);
  const auditEvent = statement.rest![0]!.resource!.find((r) => r.type === 'AuditEvent');
  expect(auditEvent?.interaction?.map((i) => i.code)).toEqual(['read', 'search-type']);
  expect(auditEvent?.searchParam?.map((p) => p.name).sort()).toEqual(['_count', '_cursor', 'action', 'agent', 'date', 'outcome', 'patient', 'subtype']);
});
