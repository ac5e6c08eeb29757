import 'server-only';
import type {
  AllergyIntolerance,
  Condition,
  Coverage,
  DocumentReference,
  Encounter,
  MedicationStatement,
  Observation,
  Patient,
  Resource,
} from '@medplum/fhirtypes';
import type { Allergy, Demographics, Encounter as EncounterBody, Insurance, Medication, Note, Problem, Vitals } from '@/lib/domain/chart/sections';
import type { FhirResourceType } from '@/lib/domain/access/smart-scopes';
import type { ChartEntry, ChartView } from '@/lib/features/records';

/**
 * A chart, as the sections its reader was allowed, turned into FHIR R4 resources. Only what the
 * chart view holds can appear: a section the lens withheld is absent from the view, so no
 * mapping here can leak it. Values that would not open (unavailable, erased) produce nothing.
 */
export const MRN_SYSTEM = 'urn:vigil:mrn';
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10-cm';
const CPT = 'http://www.ama-assn.org/go/cpt';
const vitalSignsCategory = [
  { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs', display: 'Vital Signs' }] },
];

export type ChartResource = Patient | Coverage | AllergyIntolerance | MedicationStatement | Condition | Observation | DocumentReference | Encounter;

/** A resource with what search filters need: its patient and its clinically relevant date. */
export interface Mapped {
  resource: ChartResource;
  /** ISO date or date-time the `date` search compares (Observation, Encounter, DocumentReference…). */
  date: string | null;
}

const subject = (patientId: string) => ({ reference: `Patient/${patientId}` });
const entriesOf = <T>(view: ChartView, section: keyof ChartView['sections']): ChartEntry<T>[] => {
  const s = view.sections[section];
  return s?.status === 'ok' ? (s.entries as ChartEntry<T>[]) : [];
};

export function patientResource(id: string, d: Demographics): Patient {
  return {
    resourceType: 'Patient',
    id,
    identifier: [
      {
        use: 'usual',
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] },
        system: MRN_SYSTEM,
        value: d.mrn,
      },
    ],
    name: [{ use: 'official', family: d.familyName, given: [d.givenName] }],
    gender: d.sex,
    birthDate: d.dateOfBirth,
    address: [{ line: [d.address.line1], city: d.address.city, state: d.address.state, postalCode: d.address.postalCode }],
    telecom: [{ system: 'phone', value: d.phone }, ...(d.email ? [{ system: 'email' as const, value: d.email }] : [])],
  };
}

function coverage(patientId: string, i: Insurance): Coverage {
  const classType = (code: string) => ({ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/coverage-class', code }] });
  return {
    resourceType: 'Coverage',
    id: patientId,
    status: 'active',
    beneficiary: subject(patientId),
    subscriberId: i.memberId,
    payor: [{ display: i.payer }],
    class: [
      { type: classType('plan'), value: i.planName, name: i.planName },
      { type: classType('group'), value: i.groupNumber },
    ],
  };
}

function allergy(patientId: string, e: ChartEntry<Allergy>): AllergyIntolerance {
  return {
    resourceType: 'AllergyIntolerance',
    id: e.id,
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
    code: { text: e.body.substance },
    patient: subject(patientId),
    recordedDate: e.body.notedOn,
    reaction: [{ manifestation: [{ text: e.body.reaction }], severity: e.body.severity }],
  };
}

function medication(patientId: string, e: ChartEntry<Medication>): MedicationStatement {
  return {
    resourceType: 'MedicationStatement',
    id: e.id,
    status: e.body.status === 'active' ? 'active' : 'stopped',
    medicationCodeableConcept: { text: e.body.name },
    subject: subject(patientId),
    effectiveDateTime: e.body.startedOn,
    dosage: [{ text: `${e.body.dose} ${e.body.route} ${e.body.frequency}`, route: { text: e.body.route } }],
  };
}

function condition(patientId: string, e: ChartEntry<Problem>): Condition {
  return {
    resourceType: 'Condition',
    id: e.id,
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: e.body.status }] },
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] }],
    code: { coding: [{ system: ICD10, code: e.body.icd10 }], text: e.body.description },
    subject: subject(patientId),
    onsetDateTime: e.body.onsetOn,
  };
}

/** The vital signs one reading holds, each its own Observation (LOINC code, UCUM unit). */
export const vitalSigns = {
  hr: { loinc: '8867-4', display: 'Heart rate', unit: '/min', field: 'heartRate' },
  rr: { loinc: '9279-1', display: 'Respiratory rate', unit: '/min', field: 'respiratoryRate' },
  temp: { loinc: '8310-5', display: 'Body temperature', unit: 'Cel', field: 'temperatureC' },
  spo2: { loinc: '59408-5', display: 'Oxygen saturation in Arterial blood by Pulse oximetry', unit: '%', field: 'spo2' },
  bp: { loinc: '85354-9', display: 'Blood pressure panel with all children optional', unit: 'mm[Hg]', field: null },
} as const;
export type VitalSign = keyof typeof vitalSigns;

const quantity = (value: number, unit: string) => ({ value, unit, system: UCUM, code: unit });

function observations(patientId: string, e: ChartEntry<Vitals>): Observation[] {
  return (Object.keys(vitalSigns) as VitalSign[]).map((key) => {
    const sign = vitalSigns[key];
    const base: Observation = {
      resourceType: 'Observation',
      id: `${e.id}-${key}`,
      status: 'final',
      category: vitalSignsCategory,
      code: { coding: [{ system: LOINC, code: sign.loinc, display: sign.display }], text: sign.display },
      subject: subject(patientId),
      effectiveDateTime: e.body.takenAt,
    };
    if (!sign.field) {
      const part = (code: string, display: string, value: number) => ({
        code: { coding: [{ system: LOINC, code, display }] },
        valueQuantity: quantity(value, sign.unit),
      });
      return {
        ...base,
        component: [part('8480-6', 'Systolic blood pressure', e.body.systolic), part('8462-4', 'Diastolic blood pressure', e.body.diastolic)],
      };
    }
    return { ...base, valueQuantity: quantity(Number(e.body[sign.field]), sign.unit) };
  });
}

const noteTypes = {
  progress_notes: { code: '11506-3', display: 'Progress note' },
  nursing_notes: { code: '34746-8', display: 'Nurse note' },
} as const;

function document(patientId: string, section: keyof typeof noteTypes, e: ChartEntry<Note>): DocumentReference {
  return {
    resourceType: 'DocumentReference',
    id: e.id,
    status: 'current',
    type: { coding: [{ system: LOINC, code: noteTypes[section].code, display: noteTypes[section].display }] },
    category: [{ coding: [{ system: 'http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category', code: 'clinical-note' }] }],
    subject: subject(patientId),
    date: e.body.writtenAt,
    author: [{ display: e.body.author }],
    content: [{ attachment: { contentType: 'text/plain; charset=utf-8', data: Buffer.from(e.body.text, 'utf8').toString('base64') } }],
  };
}

function encounter(patientId: string, e: ChartEntry<EncounterBody>): Encounter {
  return {
    resourceType: 'Encounter',
    id: e.id,
    status: 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB', display: 'ambulatory' },
    type: [{ text: e.body.type, ...(e.body.cpt.length ? { coding: e.body.cpt.map((c) => ({ system: CPT, code: c.code, display: c.description })) } : {}) }],
    subject: subject(patientId),
    participant: [{ individual: { display: e.body.provider } }],
    period: { start: e.body.date },
    ...(e.body.icd10.length ? { reasonCode: e.body.icd10.map((code) => ({ coding: [{ system: ICD10, code }] })) } : {}),
  };
}

/** Every resource of `types` the view holds, with its search date. */
export function chartResources(view: ChartView, types: readonly FhirResourceType[]): Mapped[] {
  const id = view.patientId;
  const out: Mapped[] = [];
  const want = new Set(types);
  if (want.has('Patient') && view.demographics?.status === 'ok') out.push({ resource: patientResource(id, view.demographics.value), date: null });
  if (want.has('Coverage') && view.insurance?.status === 'ok') out.push({ resource: coverage(id, view.insurance.value), date: null });
  if (want.has('AllergyIntolerance')) for (const e of entriesOf<Allergy>(view, 'allergies')) out.push({ resource: allergy(id, e), date: e.body.notedOn });
  if (want.has('MedicationStatement')) for (const e of entriesOf<Medication>(view, 'medications')) out.push({ resource: medication(id, e), date: e.body.startedOn });
  if (want.has('Condition')) for (const e of entriesOf<Problem>(view, 'problems')) out.push({ resource: condition(id, e), date: e.body.onsetOn });
  if (want.has('Observation')) {
    for (const e of entriesOf<Vitals>(view, 'vitals')) for (const o of observations(id, e)) out.push({ resource: o, date: e.body.takenAt });
  }
  if (want.has('DocumentReference')) {
    for (const section of ['progress_notes', 'nursing_notes'] as const) {
      for (const e of entriesOf<Note>(view, section)) out.push({ resource: document(id, section, e), date: e.body.writtenAt });
    }
  }
  if (want.has('Encounter')) for (const e of entriesOf<EncounterBody>(view, 'encounters')) out.push({ resource: encounter(id, e), date: e.body.date });
  return out;
}

export type { Resource };
