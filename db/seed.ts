/**
 * Deterministic synthetic data: the same seed number always makes the same patients, so demos,
 * tests and benchmarks agree. Nothing here is real PHI. Values are sealed through lib/platform/crypto
 * exactly as the app would seal them; only the bulk insert is seed-specific, for speed.
 */
import { randomUUID } from 'node:crypto';
import { count, eq } from 'drizzle-orm';
import type { Db } from './client';
import {
  allergies,
  careTeam,
  chartPages,
  chartSectionHeads,
  encounters,
  medications,
  nursingNotes,
  patientKeys,
  patients,
  problems,
  progressNotes,
  roles,
  userRoles,
  users,
  vitals,
} from './schema';
import { defaultRoles, roleNames } from '@/lib/domain/access/roles';
import { hashPassword } from '@/lib/features/credentials/passwords';
import { blindIndex, newPatientKey, sealUserSecret, type PatientCipher } from '@/lib/platform/crypto';
import { isProductionMode } from '@/lib/platform/mode';
import { packEntries, sealNewSection } from '@/lib/features/records/pages';
import type { EntrySection } from '@/lib/features/records/tables';
import { MFA_DEMO_ACCOUNT } from './demo-mfa';
import type { Allergy, Demographics, Encounter, Insurance, Medication, Note, Problem, Vitals } from '@/lib/domain/chart/sections';

export const DEMO_PASSWORD = 'Vigil-demo-2026!';

export const demoUsers = [
  { email: 'physician@vigil.test', displayName: 'Dr. Ada Quinlan', roles: ['physician'] },
  { email: 'physician2@vigil.test', displayName: 'Dr. Ben Okafor', roles: ['physician'] },
  { email: 'nurse@vigil.test', displayName: 'Nurse Carla Mendes', roles: ['nurse'] },
  { email: 'billing@vigil.test', displayName: 'Dana Whitfield (Billing)', roles: ['billing'] },
  { email: 'admin@vigil.test', displayName: 'Eli Admin', roles: ['admin'] },
  // The second administrator the two-person rule needs: privileged changes wait for one.
  { email: 'admin2@vigil.test', displayName: 'Gus Admin', roles: ['admin'] },
  { email: 'privacy@vigil.test', displayName: 'Fay Privacy Officer', roles: ['privacy_officer'] },
] as const;

/**
 * Extra synthetic staff for destructive end-to-end scenarios (lockout, disabling, anomaly
 * containment, timeouts), so those tests never disturb the six documented demo accounts.
 * Each is a physician on the care team of the first patients, with the demo password.
 */
export const staffUsers = Array.from({ length: 8 }, (_, i) => ({
  email: `staff${String(i + 1).padStart(2, '0')}@vigil.test`,
  displayName: `Dr. Staff ${String(i + 1).padStart(2, '0')}`,
  roles: ['physician'] as const,
}));

/**
 * A physician with TOTP already on (secret in ./demo-mfa.ts; `npx tsx scripts/totp.ts` prints
 * the current code), on the same care teams as the staff accounts.
 */
export const mfaDemoUser = { email: MFA_DEMO_ACCOUNT.email, displayName: MFA_DEMO_ACCOUNT.displayName, roles: MFA_DEMO_ACCOUNT.roles };

/** How many of the first patients each demo clinician is assigned to. */
export const demoCaseload = { physician: 60, nurse: 60, billing: 100, staff: 10 } as const;

export interface SeedOptions {
  patients: number;
  seed?: number;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/** A small fast PRNG (mulberry32): deterministic from the seed, not for secrets. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
  };
}
type Rng = ReturnType<typeof prng>;

const givenNames = ['Amelia', 'Noah', 'Olivia', 'Liam', 'Sofía', 'Mateo', 'Chloé', 'Aarav', 'Mei', 'Kwame', 'Zoë', 'Lucas', 'Fatima', 'Hiroshi', 'Ingrid', 'Diego', 'Priya', 'Oskar', 'Leila', 'Tomás', 'Nia', 'Ewan', 'Yara', 'Felix'];
const familyNames = ['Abernathy', 'Brightwater', 'Castellano', 'Dvořák', 'Eastman', 'Fairbanks', 'Gallagher', 'Hollister', 'Iwasaki', 'Jablonski', 'Kowalczyk', 'Lindqvist', 'Márquez', 'Nakamura', "O'Donnell", 'Pemberton', 'Quintero', 'Rasmussen', 'Sørensen', 'Thibodeaux', 'Underhill', 'Vasquez', 'Whitcombe', 'Xiong', 'Yamamoto', 'Zielinski', 'Núñez', 'Ashworth', 'Blackwood', 'Cromwell'];
const streets = ['Maple Ave', 'Harbor St', 'Elm Row', 'Cedar Ln', 'Orchard Rd', 'Mill Way', 'Birch Ct', 'Lake Dr'];
const cities = [['Springfield', 'IL', '627'], ['Riverton', 'WY', '825'], ['Fairview', 'OR', '970'], ['Georgetown', 'TX', '786'], ['Madison', 'WI', '537']] as const;
const payers = [['Synthetic Health Plan', 'Gold PPO'], ['Acme Mutual', 'Silver HMO'], ['Medicare (synthetic)', 'Part B'], ['Medicaid (synthetic)', 'Standard']] as const;
const allergens = [['Penicillin', 'Hives'], ['Peanuts', 'Anaphylaxis'], ['Latex', 'Contact dermatitis'], ['Sulfonamides', 'Rash'], ['Shellfish', 'Swelling of lips'], ['Aspirin', 'Wheezing']] as const;
const drugs = [['Metformin', '500 mg', 'oral', 'twice daily'], ['Lisinopril', '10 mg', 'oral', 'once daily'], ['Atorvastatin', '20 mg', 'oral', 'at night'], ['Levothyroxine', '50 mcg', 'oral', 'once daily'], ['Albuterol', '90 mcg', 'inhaled', 'as needed'], ['Omeprazole', '20 mg', 'oral', 'once daily'], ['Sertraline', '50 mg', 'oral', 'once daily'], ['Amlodipine', '5 mg', 'oral', 'once daily']] as const;
const conditions = [['Type 2 diabetes mellitus without complications', 'E11.9'], ['Essential (primary) hypertension', 'I10'], ['Hyperlipidemia, unspecified', 'E78.5'], ['Hypothyroidism, unspecified', 'E03.9'], ['Mild intermittent asthma, uncomplicated', 'J45.20'], ['Gastro-esophageal reflux disease without esophagitis', 'K21.9'], ['Major depressive disorder, single episode', 'F32.9'], ['Low back pain', 'M54.5'], ['Chronic kidney disease, stage 3', 'N18.30']] as const;
const procedures = [['99213', 'Office visit, established patient, low complexity', 110], ['99214', 'Office visit, established patient, moderate complexity', 165], ['99203', 'Office visit, new patient, low complexity', 150], ['93000', 'Electrocardiogram, complete', 45], ['80053', 'Comprehensive metabolic panel', 38], ['85025', 'Complete blood count with differential', 22], ['71046', 'Chest X-ray, 2 views', 60]] as const;
const encounterTypes = ['Office visit', 'Follow-up', 'Annual physical', 'Urgent care', 'Telehealth'];
const noteOpeners = ['Patient seen for follow-up.', 'Reports feeling better since last visit.', 'Presents with mild fatigue.', 'No acute complaints today.', 'Reviewed labs with patient.'];
const noteClosers = ['Continue current plan.', 'Return in 3 months.', 'Labs ordered; will call with results.', 'Counselled on diet and exercise.', 'Medication adherence discussed.'];
const nursingLines = ['Vitals taken, patient comfortable.', 'Medication administered as ordered.', 'Ambulated in hallway with assistance.', 'Education provided on inhaler technique.', 'Patient resting, call light within reach.'];

const EPOCH = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export function syntheticPatient(index: number, seed: number) {
  const r = prng(seed * 1_000_003 + index);
  const [city, state, zip] = r.pick(cities);
  const givenName = r.pick(givenNames);
  const familyName = r.pick(familyNames);
  const demographics: Demographics = {
    mrn: String(40_000_000 + index),
    givenName,
    familyName,
    dateOfBirth: isoDay(EPOCH - r.int(1 * 365, 95 * 365) * DAY),
    sex: r.pick(['female', 'male', 'female', 'male', 'other', 'unknown'] as const),
    address: { line1: `${r.int(1, 9999)} ${r.pick(streets)}`, city, state, postalCode: `${zip}${String(r.int(0, 99)).padStart(2, '0')}` },
    phone: `555-${String(r.int(100, 999))}-${String(r.int(0, 9999)).padStart(4, '0')}`,
    email: `${givenName.toLowerCase().normalize('NFKD').replace(/[^a-z]/g, '')}.${index}@example.test`,
  };
  const [payer, planName] = r.pick(payers);
  const insurance: Insurance = { payer, planName, memberId: `SYN${r.int(10_000_000, 99_999_999)}`, groupNumber: `G${r.int(1000, 9999)}` };
  return { demographics, insurance, r };
}

function clinicalEntries(r: Rng) {
  const days = (min: number, max: number) => EPOCH - r.int(min, max) * DAY;
  const allergyRows: Allergy[] = Array.from({ length: r.int(0, 3) }, () => {
    const [substance, reaction] = r.pick(allergens);
    return { substance, reaction, severity: r.pick(['mild', 'moderate', 'severe'] as const), notedOn: isoDay(days(100, 4000)) };
  });
  const medicationRows: Medication[] = Array.from({ length: r.int(1, 4) }, () => {
    const [name, dose, route, frequency] = r.pick(drugs);
    return { name, dose, route, frequency, startedOn: isoDay(days(10, 2000)), status: r.next() < 0.85 ? 'active' : 'stopped' };
  });
  const problemRows: Problem[] = Array.from({ length: r.int(1, 3) }, () => {
    const [description, icd10] = r.pick(conditions);
    return { description, icd10, onsetOn: isoDay(days(30, 5000)), status: r.next() < 0.8 ? 'active' : 'resolved' };
  });
  const vitalRows: Vitals[] = Array.from({ length: 4 }, (_, i) => ({
    takenAt: new Date(EPOCH - (i * 30 + r.int(0, 20)) * DAY).toISOString(),
    heartRate: r.int(55, 105),
    systolic: r.int(100, 160),
    diastolic: r.int(60, 100),
    temperatureC: Math.round((36.2 + r.next() * 1.6) * 10) / 10,
    respiratoryRate: r.int(12, 22),
    spo2: r.int(92, 100),
  }));
  const note = (lines: readonly string[], author: string, offset: number): Note => ({
    writtenAt: new Date(EPOCH - offset * DAY).toISOString(),
    author,
    text: `${r.pick(lines)} ${r.pick(noteClosers)}`,
  });
  const progressRows = Array.from({ length: 2 }, (_, i) => note(noteOpeners, 'Dr. Ada Quinlan', i * 45 + r.int(1, 30)));
  const nursingRows = Array.from({ length: 2 }, (_, i) => note(nursingLines, 'Nurse Carla Mendes', i * 20 + r.int(1, 15)));
  const encounterRows: Array<Encounter & { billingStatus: string }> = Array.from({ length: r.int(1, 3) }, () => {
    const items = Array.from({ length: r.int(1, 3) }, () => {
      const [code, description, charge] = r.pick(procedures);
      return { code, description, charge };
    });
    return {
      date: isoDay(days(5, 700)),
      type: r.pick(encounterTypes),
      provider: 'Dr. Ada Quinlan',
      cpt: items,
      icd10: [r.pick(conditions)[1]],
      billingStatus: r.pick(['unbilled', 'submitted', 'paid', 'paid', 'denied']),
    };
  });
  // Drawn last, from a generator of their own, so every value above stays as it was seeded before.
  const clock = prng(r.int(1, 2 ** 31 - 1));
  return { allergyRows, medicationRows, problemRows, vitalRows: withRealisticTimes(vitalRows, clock), progressRows, nursingRows, encounterRows };
}

const HOUR = 3_600_000;
const MINUTE = 60_000;

/**
 * Vitals at the times a clinic or ward takes them, not at midnight: each clinic reading moved
 * to a visit between 08:00 and 17:00, and the most recent visit followed by an observation stay
 * with readings every four hours that drift back from the presenting values.
 */
function withRealisticTimes(clinic: Vitals[], clock: Rng): Vitals[] {
  const visits = clinic.map((v) => {
    const day = Math.floor(new Date(v.takenAt).getTime() / DAY) * DAY;
    return { ...v, takenAt: new Date(day + clock.int(8, 16) * HOUR + clock.int(0, 59) * MINUTE).toISOString() };
  });
  const latest = visits[0]!;
  const start = new Date(latest.takenAt).getTime();
  const stay: Vitals[] = Array.from({ length: 6 }, (_, i) => {
    const settle = (i + 1) / 6;
    return {
      takenAt: new Date(start + (i + 1) * 4 * HOUR + clock.int(-15, 15) * MINUTE).toISOString(),
      heartRate: Math.round(latest.heartRate + (72 - latest.heartRate) * settle) + clock.int(-4, 4),
      systolic: Math.round(latest.systolic + (124 - latest.systolic) * settle) + clock.int(-5, 5),
      diastolic: Math.round(latest.diastolic + (78 - latest.diastolic) * settle) + clock.int(-3, 3),
      temperatureC: Math.round((latest.temperatureC + (36.8 - latest.temperatureC) * settle + (clock.next() - 0.5) * 0.3) * 10) / 10,
      respiratoryRate: Math.round(latest.respiratoryRate + (15 - latest.respiratoryRate) * settle) + clock.int(-1, 1),
      spo2: Math.min(100, Math.round(latest.spo2 + (97 - latest.spo2) * settle) + clock.int(-1, 1)),
    };
  });
  return [...stay.reverse(), ...visits];
}

/** The demo seed's refusal in production mode, before it writes anything. */
export const SEED_REFUSED_MESSAGE =
  'The demo seed does not run in production mode (VIGIL_MODE=production, or NODE_ENV=production): it makes accounts with a published password. Use npm run setup for the first administrator.';

export async function seedRolesAndUsers(db: Db): Promise<Map<string, string>> {
  if (isProductionMode()) throw new Error(SEED_REFUSED_MESSAGE);
  for (const name of roleNames) {
    const role = defaultRoles[name];
    await db
      .insert(roles)
      .values({ name, description: role.description, permissions: role.permissions, builtIn: true })
      .onConflictDoNothing();
  }
  const passwordHash = await hashPassword(DEMO_PASSWORD);
  const ids = new Map<string, string>();
  for (const demo of [...demoUsers, ...staffUsers, mfaDemoUser]) {
    const [existing] = await db.select({ id: users.id }).from(users).where(eq(users.email, demo.email)).limit(1);
    const id = existing?.id ?? randomUUID();
    if (!existing) {
      const totp =
        demo === mfaDemoUser ? { sealedTotpSecret: sealUserSecret(id, 'totp', MFA_DEMO_ACCOUNT.totpSecret), totpEnabledAt: new Date() } : {};
      await db.insert(users).values({ id, email: demo.email, displayName: demo.displayName, passwordHash, ...totp });
      await db.insert(userRoles).values(demo.roles.map((roleName) => ({ userId: id, roleName })));
    }
    ids.set(demo.email, id);
  }
  return ids;
}

type Insertable = { table: Parameters<Db['insert']>[0]; rows: Record<string, unknown>[] };

async function insertChunked(db: Db, { table, rows }: Insertable): Promise<void> {
  for (let i = 0; i < rows.length; i += 1000) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    await db.insert(table).values(rows.slice(i, i + 1000) as any);
  }
}

export async function countPatients(db: Db): Promise<number> {
  const [row] = await db.select({ n: count() }).from(patients);
  return row?.n ?? 0;
}

/** Seeds roles, demo users and `patients` synthetic patients with their charts and care teams. */
export async function seedDatabase(db: Db, options: SeedOptions): Promise<{ patients: number }> {
  const seed = options.seed ?? 42;
  const batchSize = options.batchSize ?? 500;
  const userIds = await seedRolesAndUsers(db);
  const start = await countPatients(db);
  const physician = userIds.get('physician@vigil.test')!;
  const nurse = userIds.get('nurse@vigil.test')!;
  const billing = userIds.get('billing@vigil.test')!;

  for (let from = start; from < options.patients; from += batchSize) {
    const to = Math.min(options.patients, from + batchSize);
    const tables = {
      patients: [] as Record<string, unknown>[],
      keys: [] as Record<string, unknown>[],
      allergies: [] as Record<string, unknown>[],
      medications: [] as Record<string, unknown>[],
      problems: [] as Record<string, unknown>[],
      vitals: [] as Record<string, unknown>[],
      progress: [] as Record<string, unknown>[],
      nursing: [] as Record<string, unknown>[],
      encounters: [] as Record<string, unknown>[],
      pages: [] as Record<string, unknown>[],
      heads: [] as Record<string, unknown>[],
      team: [] as Record<string, unknown>[],
    };
    for (let index = from; index < to; index++) {
      const patientId = randomUUID();
      const { demographics, insurance, r } = syntheticPatient(index, seed);
      const { row: keyRow, cipher } = newPatientKey(patientId);
      tables.keys.push(keyRow);
      tables.patients.push(patientRow(patientId, demographics, insurance, cipher));
      const entries = clinicalEntries(r);
      /** A section's entries, sealed onto pages exactly as lib/features/records appends them. */
      const add = (list: Record<string, unknown>[], section: EntrySection, rows: Array<{ body: object; extra?: Record<string, unknown> }>) => {
        const items = rows
          .map(({ body, extra }) => ({ id: randomUUID(), body: body as Record<string, unknown>, extra, createdAt: recordedAt(body) }))
          .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
        const { pages, pageOf } = packEntries(items, undefined);
        if (pages.size > 0) {
          const sealed = sealNewSection(cipher, section, pages);
          for (const page of sealed.pages) tables.pages.push({ patientId, section, ...page });
          tables.heads.push({ patientId, section, sealedHead: sealed.sealedHead });
        }
        for (const { id, extra, createdAt } of items) list.push({ id, patientId, pageNo: pageOf.get(id), createdAt, updatedAt: createdAt, ...extra });
      };
      add(tables.allergies, 'allergies', entries.allergyRows.map((body) => ({ body })));
      add(tables.medications, 'medications', entries.medicationRows.map((body) => ({ body })));
      add(tables.problems, 'problems', entries.problemRows.map((body) => ({ body })));
      add(tables.vitals, 'vitals', entries.vitalRows.map((body) => ({ body })));
      add(tables.progress, 'progress_notes', entries.progressRows.map((body) => ({ body })));
      add(tables.nursing, 'nursing_notes', entries.nursingRows.map((body) => ({ body })));
      add(tables.encounters, 'encounters', entries.encounterRows.map(({ billingStatus, ...body }) => ({ body, extra: { billingStatus } })));
      if (index < demoCaseload.physician) tables.team.push({ patientId, userId: physician, relationship: 'attending' });
      if (index < demoCaseload.nurse) tables.team.push({ patientId, userId: nurse, relationship: 'nursing' });
      if (index < demoCaseload.billing) tables.team.push({ patientId, userId: billing, relationship: 'billing' });
      if (index < demoCaseload.staff) {
        for (const staff of [...staffUsers, mfaDemoUser]) tables.team.push({ patientId, userId: userIds.get(staff.email)!, relationship: 'attending' });
      }
    }
    await db.transaction(async (tx) => {
      const t = tx as unknown as Db;
      await insertChunked(t, { table: patients, rows: tables.patients });
      await insertChunked(t, { table: patientKeys, rows: tables.keys });
      await insertChunked(t, { table: allergies, rows: tables.allergies });
      await insertChunked(t, { table: medications, rows: tables.medications });
      await insertChunked(t, { table: problems, rows: tables.problems });
      await insertChunked(t, { table: vitals, rows: tables.vitals });
      await insertChunked(t, { table: progressNotes, rows: tables.progress });
      await insertChunked(t, { table: nursingNotes, rows: tables.nursing });
      await insertChunked(t, { table: encounters, rows: tables.encounters });
      await insertChunked(t, { table: chartPages, rows: tables.pages });
      await insertChunked(t, { table: chartSectionHeads, rows: tables.heads });
      await insertChunked(t, { table: careTeam, rows: tables.team });
    });
    options.onProgress?.(to, options.patients);
  }
  return { patients: Math.max(start, options.patients) };
}

/** A patient's row: blind indexes for search, demographics and insurance sealed with their key. */
function patientRow(patientId: string, demographics: Demographics, insurance: Insurance, cipher: PatientCipher) {
  return {
    id: patientId,
    mrnIndex: blindIndex('mrn', demographics.mrn),
    dobIndex: blindIndex('dob', demographics.dateOfBirth),
    lastNameIndex: blindIndex('last_name', demographics.familyName),
    lastNamePrefixIndex: blindIndex('last_name_prefix', demographics.familyName),
    sealedDemographics: cipher.seal('patients', 'sealed_demographics', patientId, demographics),
    sealedInsurance: cipher.seal('patients', 'sealed_insurance', patientId, insurance),
  };
}

/**
 * A caseload for the patient list's scale tests and benchmark: `patients` synthetic patients
 * with demographics, insurance and keys but no chart entries, all on `userId`'s care team.
 */
export async function seedCaseload(db: Db, options: { patients: number; userId: string; seed?: number; relationship?: string }): Promise<string[]> {
  const ids: string[] = [];
  for (let from = 0; from < options.patients; from += 1000) {
    const rows = { patients: [] as Record<string, unknown>[], keys: [] as Record<string, unknown>[], team: [] as Record<string, unknown>[] };
    for (let index = from; index < Math.min(options.patients, from + 1000); index++) {
      const patientId = randomUUID();
      const { demographics, insurance } = syntheticPatient(index, options.seed ?? 42);
      const { row: keyRow, cipher } = newPatientKey(patientId);
      rows.keys.push(keyRow);
      rows.patients.push(patientRow(patientId, demographics, insurance, cipher));
      rows.team.push({ patientId, userId: options.userId, relationship: options.relationship ?? 'attending' });
      ids.push(patientId);
    }
    await db.transaction(async (tx) => {
      const t = tx as unknown as Db;
      await insertChunked(t, { table: patients, rows: rows.patients });
      await insertChunked(t, { table: patientKeys, rows: rows.keys });
      await insertChunked(t, { table: careTeam, rows: rows.team });
    });
  }
  return ids;
}

/** When a seeded entry was recorded: its own clinical date, so charts list entries newest first. */
function recordedAt(body: object): Date {
  const b = body as Record<string, unknown>;
  return new Date(String(b.takenAt ?? b.writtenAt ?? b.date ?? b.notedOn ?? b.startedOn ?? b.onsetOn));
}
