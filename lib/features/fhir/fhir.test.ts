/**
 * The FHIR API against seeded data, driven through handleFhirRequest as the route calls it:
 * every resource type round-trips and validates (Medplum's validator, the R4 definitions), paging
 * returns every match once, and the lens × relationship matrix gives exactly the portal's answer
 * (getChart is asked the same question for the same viewer), with every read audited.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { and, eq, gt } from 'drizzle-orm';
import type { AuditEvent, Bundle, Observation, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import { toFhirAuditEvent } from '@/lib/features/audit-review/export';
import { auditLog } from '@/db/schema';
import { fhirResourceSections, fhirResourceTypes, userResourceTypes, type FhirResourceType } from '@/lib/domain/access/smart-scopes';
import type { ChartSection } from '@/lib/domain/access/roles';
import type { Viewer } from '@/lib/domain/access/viewer';
import { DEMO_PASSWORD } from '@/db/seed';
import { requestGrant } from '@/lib/features/break-glass';
import { getChart } from '@/lib/features/records';
import { addEntry } from '@/lib/features/records/writes';
import { auditHead, createStaff, ensureEntry, PATIENTS_WITH_STRANGERS, strangerPatients, testDatabase, viewer as signIn } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import type { FhirResponse } from '@/lib/features/fhir/api';
import { capabilityStatement, smartConfiguration } from '@/lib/features/fhir/capability';
import { BASE, expectValid, get, tokenFor } from '@/test/fhir';

const entries = (r: FhirResponse) => ((r.body as Bundle).entry ?? []).map((e) => e.resource!);

const today = new Date().toISOString().slice(0, 10);
const bodies: Record<string, Record<string, unknown>> = {
  allergies: { substance: 'Synthetic latex', reaction: 'Rash', severity: 'mild', notedOn: today },
  medications: { name: 'Syntholol', dose: '5 mg', route: 'oral', frequency: 'daily', startedOn: today, status: 'active' },
  problems: { description: 'Synthetic problem', icd10: 'E11.9', onsetOn: today, status: 'active' },
  vitals: { takenAt: new Date().toISOString(), heartRate: 70, systolic: 120, diastolic: 80, temperatureC: 36.8, respiratoryRate: 14, spo2: 98 },
  progress_notes: { writtenAt: new Date().toISOString(), author: 'Synthetic MD', text: 'Synthetic progress note' },
  nursing_notes: { writtenAt: new Date().toISOString(), author: 'Synthetic RN', text: 'Synthetic nursing note' },
  encounters: { date: today, type: 'Office visit', provider: 'Synthetic MD', cpt: [{ code: '99213', description: 'Office visit', charge: 120 }], icd10: ['E11.9'] },
};

let handle: TestDatabase;
let teamPatient: string;
let glassPatient: string;
let nonePatient: string;
const roles = ['physician', 'nurse', 'billing', 'admin', 'privacy_officer'] as const;
const viewers = new Map<string, Viewer>();

beforeAll(async () => {
  handle = await testDatabase({ patients: PATIENTS_WITH_STRANGERS });
  [teamPatient, glassPatient, nonePatient] = (await strangerPatients(handle.db)) as [string, string, string];
  for (const role of roles) {
    const relationship = role === 'nurse' ? 'nursing' : role === 'billing' ? 'billing' : 'attending';
    const staff = await createStaff(handle.db, { roles: [role], careTeam: [{ patientId: teamPatient, relationship }] });
    viewers.set(role, await signIn(handle.db, staff.email));
  }
  for (const patientId of [teamPatient, glassPatient, nonePatient]) {
    for (const [section, body] of Object.entries(bodies)) await ensureEntry(handle.db, section as never, patientId, body);
  }
  for (const role of ['physician', 'nurse'] as const) {
    const granted = await requestGrant(viewers.get(role)!, {
      patientId: glassPatient,
      reasonCode: 'emergency_treatment',
      justification: 'Synthetic emergency: patient arrived unresponsive, need the chart now.',
      secret: DEMO_PASSWORD,
    });
    expect(granted.ok).toBe(true);
  }
});

/** What the portal shows this viewer of this patient: the sections getChart opens. */
async function portalSections(viewer: Viewer, patientId: string): Promise<ChartSection[]> {
  const chart = await getChart(viewer, patientId);
  if (!chart.ok) return [];
  const shown = Object.keys(chart.value.sections) as ChartSection[];
  if (chart.value.demographics) shown.push('demographics');
  if (chart.value.insurance) shown.push('insurance');
  return shown;
}

/** The chart section a returned resource came from. */
function sectionOf(resource: Resource): ChartSection {
  if (resource.resourceType === 'DocumentReference') return resource.type?.coding?.[0]?.code === '11506-3' ? 'progress_notes' : 'nursing_notes';
  return fhirResourceSections[resource.resourceType as FhirResourceType][0];
}

describe('lens × relationship matrix through the API', () => {
  const relations = ['care_team', 'break_glass', 'none'] as const;
  it.each(roles.flatMap((role) => relations.map((relation) => [role, relation] as const)))(
    '%s, %s: every resource type gives exactly the portal’s sections, and each read is audited',
    async (role, relation) => {
      const viewer = viewers.get(role)!;
      const patientId = relation === 'care_team' ? teamPatient : relation === 'break_glass' ? glassPatient : nonePatient;
      const portal = await portalSections(viewer, patientId);
      const token = await tokenFor(viewer);
      const seen = new Set<ChartSection>();
      for (const type of fhirResourceTypes) {
        const since = await auditHead(handle.db);
        const response = await get(token, type === 'Patient' ? `Patient/${patientId}` : `${type}?patient=${patientId}&_count=100`);
        const expected = (fhirResourceSections[type] as readonly ChartSection[]).filter((s) => portal.includes(s));
        const [entry] = await handle.db.select().from(auditLog).where(and(gt(auditLog.seq, since), eq(auditLog.actionType, 'fhir.read')));
        if (expected.length === 0) {
          expect(response.status, type).toBe(404);
          expect(response.body.resourceType).toBe('OperationOutcome');
          expect(entry, type).toMatchObject({ outcome: 'denied' });
          continue;
        }
        expect(response.status, type).toBe(200);
        const resources = type === 'Patient' ? [response.body] : entries(response);
        expect(resources.length, type).toBeGreaterThan(0);
        for (const r of resources) {
          expectValid(r);
          seen.add(sectionOf(r));
          expect(portal, `${type} returned ${sectionOf(r)}`).toContain(sectionOf(r));
        }
        expect(entry, type).toMatchObject({ outcome: 'allowed', patientId, breakGlassGrantId: relation === 'break_glass' ? expect.any(String) : null });
        expect((entry!.details as { returned: string[] }).returned).toEqual(resources.map((r) => `${r.resourceType}/${r.id}`));
      }
      // Every section the portal shows is reachable through the API, and nothing else.
      expect([...seen].sort()).toEqual([...portal].sort());
    },
  );
});

it('the API reads through the same relationship lens: a clerk who became a nurse gets no clinical resource through a billing row', async () => {
  const staff = await createStaff(handle.db, { roles: ['billing', 'nurse'], careTeam: [{ patientId: teamPatient, relationship: 'billing' }] });
  const viewer = await signIn(handle.db, staff.email);
  const token = await tokenFor(viewer);
  expect((await portalSections(viewer, teamPatient)).sort()).toEqual(['demographics', 'encounters', 'insurance']);
  expect((await get(token, `Patient/${teamPatient}`)).status).toBe(200);
  expect(entries(await get(token, `Encounter?patient=${teamPatient}`)).length).toBeGreaterThan(0);
  for (const type of ['Observation', 'AllergyIntolerance', 'MedicationStatement', 'Condition', 'DocumentReference'] as const) {
    expect((await get(token, `${type}?patient=${teamPatient}`)).status, type).toBe(404);
  }
});

describe('resources, search and paging', () => {
  const physician = () => viewers.get('physician')!;

  it('Patient search by identifier, birthdate, family+birthdate and _id finds the patient; outside relationships finds nothing', async () => {
    const token = await tokenFor(physician());
    const patient = (await get(token, `Patient/${teamPatient}`)).body as Patient;
    expectValid(patient);
    const mrn = patient.identifier![0]!.value!;
    const queries = [
      `identifier=${encodeURIComponent(`urn:vigil:mrn|${mrn}`)}`,
      `birthdate=${patient.birthDate}`,
      `family=${encodeURIComponent(patient.name![0]!.family!)}&birthdate=${patient.birthDate}`,
      `_id=${teamPatient}`,
    ];
    for (const q of queries) {
      const found = entries(await get(token, `Patient?${q}`));
      expect(found.map((r) => r.id), q).toContain(teamPatient);
      found.forEach(expectValid);
    }
    const stranger = (await get(await tokenFor(viewers.get('physician')!), `Patient/${nonePatient}`)).status;
    expect(stranger).toBe(404);
    expect((await get(token, `Patient?_id=${nonePatient}`)).body).toMatchObject({ resourceType: 'Bundle', total: 0 });
  });

  it('Observation: vital signs with LOINC codes and UCUM units, by category, code and date range', async () => {
    const nurse = viewers.get('nurse')!;
    for (const takenAt of ['2026-01-05T08:00:00Z', '2026-02-10T08:00:00Z', '2026-03-15T08:00:00Z']) {
      const added = await addEntry(nurse, { patientId: teamPatient, section: 'vitals', body: { ...bodies.vitals, takenAt } });
      expect(added.ok).toBe(true);
    }
    const token = await tokenFor(physician());
    const vitals = entries(await get(token, `Observation?patient=${teamPatient}&category=vital-signs&code=http://loinc.org|8867-4&_count=100`)) as Observation[];
    expect(vitals.length).toBeGreaterThanOrEqual(3);
    for (const o of vitals) {
      expectValid(o);
      expect(o.valueQuantity).toMatchObject({ system: 'http://unitsofmeasure.org', code: '/min' });
    }
    const one = await get(token, `Observation/${vitals[0]!.id}`);
    expect(one).toMatchObject({ status: 200, body: { resourceType: 'Observation', id: vitals[0]!.id } });
    const inRange = entries(await get(token, `Observation?patient=${teamPatient}&code=8867-4&date=ge2026-02-01&date=lt2026-03-01`)) as Observation[];
    expect(inRange.map((o) => o.effectiveDateTime)).toEqual(['2026-02-10T08:00:00Z'.replace('Z', '.000Z')].map((d) => expect.stringMatching(d.slice(0, 16))));
    const bp = entries(await get(token, `Observation?patient=${teamPatient}&code=85354-9&date=2026-01`)) as Observation[];
    expect(bp).toHaveLength(1);
    expect(bp[0]!.component!.map((c) => c.valueQuantity!.code)).toEqual(['mm[Hg]', 'mm[Hg]']);
  });

  it('paging: following next links returns every match exactly once', async () => {
    const token = await tokenFor(physician());
    const all = entries(await get(token, `Observation?patient=${teamPatient}&_count=100`)).map((r) => r.id);
    const paged: string[] = [];
    let url: string | undefined = `Observation?patient=${teamPatient}&_count=4`;
    let pages = 0;
    while (url) {
      const page = await get(token, url);
      expect((page.body as Bundle).total).toBe(all.length);
      paged.push(...entries(page).map((r) => r.id!));
      url = (page.body as Bundle).link?.find((l) => l.relation === 'next')?.url?.slice(BASE.length + 1);
      pages += 1;
    }
    expect(pages).toBe(Math.ceil(all.length / 4));
    expect(new Set(paged).size).toBe(paged.length);
    expect(paged.sort()).toEqual([...all].sort());
  });

  it('Patient/$everything returns every readable type, each valid, and Encounter carries CPT and ICD-10 codings', async () => {
    const token = await tokenFor(physician());
    const bundle = (await get(token, `Patient/${teamPatient}/$everything?_count=100`)).body as Bundle;
    const types = new Set(bundle.entry!.map((e) => e.resource!.resourceType));
    expect([...types].sort()).toEqual([...fhirResourceTypes].sort());
    bundle.entry!.forEach((e) => expectValid(e.resource!));
    const encounter = bundle.entry!.map((e) => e.resource!).find((r) => r.resourceType === 'Encounter' && r.type?.[0]?.coding);
    expect(JSON.stringify(encounter)).toContain('http://www.ama-assn.org/go/cpt');
    expect(JSON.stringify(encounter)).toContain('http://hl7.org/fhir/sid/icd-10-cm');
  });

  it('metadata: a valid CapabilityStatement naming exactly the served types, and the SMART configuration', () => {
    const statement = capabilityStatement(BASE, new Date());
    expectValid(statement);
    expect(statement.rest![0]!.resource!.map((r) => r.type).sort()).toEqual([...userResourceTypes, 'Practitioner'].sort());
    expect(statement.rest![0]!.resource!.find((r) => r.type === 'Practitioner')!.interaction).toEqual([{ code: 'read' }]);
    const smart = smartConfiguration(BASE);
    expect(smart).toMatchObject({ code_challenge_methods_supported: ['S256'], token_endpoint: 'http://vigil.test/oauth/token', issuer: BASE, jwks_uri: 'http://vigil.test/oauth/jwks', id_token_signing_alg_values_supported: ['ES256'] });
    expect(smart.capabilities).toContain('sso-openid-connect');
    expect(smart.scopes_supported).toEqual(expect.arrayContaining(['openid', 'fhirUser']));
  });

  it('a read exports as a BALP RESTful AuditEvent: the app as an agent, each returned resource an entity, valid FHIR', async () => {
    const since = await auditHead(handle.db);
    await get(await tokenFor(physician()), `AllergyIntolerance?patient=${teamPatient}`);
    const [row] = await handle.db.select().from(auditLog).where(and(gt(auditLog.seq, since), eq(auditLog.actionType, 'fhir.read')));
    const event = toFhirAuditEvent({
      seq: row!.seq,
      logId: row!.logId,
      occurredAt: row!.occurredAt.toISOString(),
      user: { id: row!.userId!, email: null, displayName: null },
      roles: ['physician'],
      action: row!.actionType,
      resourceType: row!.resourceType,
      resourceId: row!.resourceId,
      patientId: row!.patientId,
      outcome: row!.outcome,
      ip: null,
      userAgent: null,
      breakGlass: null,
      details: row!.details ?? null,
      hasState: false,
      prevHash: row!.prevHash,
      hash: row!.hash,
    }) as unknown as AuditEvent;
    expectValid(event);
    expect(event.type).toMatchObject({ code: 'rest' });
    expect(event.subtype?.[0]).toMatchObject({ system: 'http://hl7.org/fhir/restful-interaction', code: 'search-type' });
    expect(event.agent.map((a) => a.who?.identifier?.value)).toContain('test-app');
    const returned = (row!.details as { returned: string[] }).returned;
    expect(returned.length).toBeGreaterThan(0);
    expect(event.entity!.map((e) => e.what?.reference)).toEqual(expect.arrayContaining([`Patient/${teamPatient}`, ...returned]));
  });

  it('instance reads keep the lens: a nurse cannot read a progress note by id, but can read a nursing note', async () => {
    const notes = entries(await get(await tokenFor(physician()), `DocumentReference?patient=${teamPatient}&_count=100`));
    const progress = notes.find((r) => sectionOf(r) === 'progress_notes')!;
    const nursing = notes.find((r) => sectionOf(r) === 'nursing_notes')!;
    const nurseToken = await tokenFor(viewers.get('nurse')!);
    expect((await get(nurseToken, `DocumentReference/${progress.id}`)).status).toBe(404);
    expect((await get(nurseToken, `DocumentReference/${nursing.id}`)).status).toBe(200);
  });

  it('unsupported parameters and unknown types are OperationOutcomes without PHI', async () => {
    const token = await tokenFor(physician());
    const bad = await get(token, `Condition?patient=${teamPatient}&name=Smith`);
    expect(bad.status).toBe(400);
    expect((bad.body as OperationOutcome).issue[0]!.diagnostics).not.toContain('Smith');
    expect((await get(token, 'Medication/abc')).status).toBe(404);
    expect((await get(token, `Condition/${teamPatient}`)).status).toBe(404);
  });
});
