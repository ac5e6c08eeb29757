/**
 * Deterministic synthetic data: the same seed number always makes the same patients, so demos,
 * tests and benchmarks agree. Nothing here is real PHI. Values are sealed through lib/platform/crypto
 * exactly as the app would seal them; only the bulk insert is seed-specific, for speed.
 */
import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { count, eq, getTableName, sql } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { rowsOf, type Db } from './client';
import { inCopyTransaction, withIndexesBuiltAfter, type CopyWriter } from './bulk-load';
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
  users,
  vitals,
} from './schema';
import { defaultRoles, roleNames } from '@/lib/domain/access/roles';
import { hashPassword } from '@/lib/features/credentials/passwords';
import { blindIndex, getKeyProvider, patientKeyMaker, sealUserSecret, type PatientCipher } from '@/lib/platform/crypto';
import { insertRoleRows, unsetUserMacFields, withMac } from '@/lib/platform/integrity';
import { isProductionMode } from '@/lib/platform/mode';
import { sealNewEntries } from '@/lib/features/records/pages';
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
  /**
   * Worker threads that generate and seal batches while this thread writes (0: generate here).
   * Workers open the key provider the environment configures, so a caller that installed
   * another (tests, setKeyProvider) must leave this at 0.
   */
  workers?: number;
  onProgress?: (done: number, total: number) => void;
  /** Called when every patient is written and the indexes are being built (a fresh seed's last step). */
  onIndexing?: () => void;
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
      await db.insert(users).values(withMac('users', { ...unsetUserMacFields, id, email: demo.email, displayName: demo.displayName, passwordHash, ...totp }));
      await insertRoleRows(db, demo.roles.map((roleName) => ({ userId: id, roleName })));
    }
    ids.set(demo.email, id);
  }
  return ids;
}

export async function countPatients(db: Db): Promise<number> {
  const [row] = await db.select({ n: count() }).from(patients);
  return row?.n ?? 0;
}

/** Who the first patients' care teams name: the demo clinicians' user ids. */
export interface SeedTeam {
  physician: string;
  nurse: string;
  billing: string;
  /** The staff accounts and the MFA demo physician, on the first `demoCaseload.staff` teams. */
  staff: string[];
}

/** One batch to generate: patients `from` (inclusive) to `to` (exclusive) of seed `seed`. */
export interface SeedJob {
  from: number;
  to: number;
  seed: number;
  team: SeedTeam;
}

/** Patients per batch: one COPY per table each; adding to a seeded database, one transaction each, so an interrupted run resumes at a whole batch. */
const SEED_BATCH = 500;

/**
 * Seeds roles, demo users and `patients` synthetic patients with their charts and care teams.
 *
 * Into a database with no patients yet, the whole seed is one transaction with the seeded
 * tables' indexes built at the end (withIndexesBuiltAfter): a seed stopped part-way leaves no
 * patient at all, and the next run starts again from the first (on PostgreSQL the seeded tables
 * are locked until it commits, so the portal waits on them). Otherwise (a seed that adds to
 * patients already there) each batch is its own transaction, the indexes kept up as it goes,
 * and a run stopped part-way resumes after the last whole batch.
 */
export async function seedDatabase(db: Db, options: SeedOptions): Promise<{ patients: number }> {
  const seed = options.seed ?? 42;
  const batchSize = options.batchSize ?? SEED_BATCH;
  const userIds = await seedRolesAndUsers(db);
  const start = await countPatients(db);
  const team: SeedTeam = {
    physician: userIds.get('physician@vigil.test')!,
    nurse: userIds.get('nurse@vigil.test')!,
    billing: userIds.get('billing@vigil.test')!,
    staff: [...staffUsers, mfaDemoUser].map((staff) => userIds.get(staff.email)!),
  };
  const jobs: SeedJob[] = [];
  for (let from = start; from < options.patients; from += batchSize) jobs.push({ from, to: Math.min(options.patients, from + batchSize), seed, team });
  if (jobs.length === 0) return { patients: start };
  const skipChecks = (await referenceChecks(db)) === 'skippable';
  const generate = (write: (batch: CopyBatch, job: SeedJob) => Promise<void>) =>
    (options.workers ?? 0) > 0 && jobs.length > 1 ? generateInWorkers(jobs, options.workers!, write) : inOrder(jobs, write);
  const written = (job: SeedJob) => options.onProgress?.(job.to, options.patients);
  const loaded =
    start === 0 &&
    (await inCopyTransaction(db, (writer) =>
      withIndexesBuiltAfter(writer, seededTables, async () => {
        await generate(async (batch, job) => {
          await copyBatch(writer, batch, skipChecks);
          written(job);
        });
        options.onIndexing?.();
      }),
    ));
  if (!loaded) {
    await generate(async (batch, job) => {
      await inCopyTransaction(db, (writer) => copyBatch(writer, batch, skipChecks));
      written(job);
    });
  }
  return { patients: Math.max(start, options.patients) };
}

async function inOrder(jobs: SeedJob[], write: (batch: CopyBatch, job: SeedJob) => Promise<void>): Promise<void> {
  for (const job of jobs) await write(seedBatch(job), job);
}

/**
 * The seed's tables in the order a batch fills them (patients before the rows that reference
 * them), each with the columns its COPY text carries; the rest take their defaults.
 */
const ENTRY_COLUMNS = ['id', 'patientId', 'pageNo', 'createdAt', 'updatedAt'] as const;
const copyTables = {
  patients: { table: patients, columns: ['id', 'mrnIndex', 'dobIndex', 'lastNameIndex', 'lastNamePrefixIndex', 'sealedDemographics', 'sealedInsurance'] },
  keys: { table: patientKeys, columns: ['patientId', 'wrappedKey', 'masterKeyVersion'] },
  allergies: { table: allergies, columns: ENTRY_COLUMNS },
  medications: { table: medications, columns: ENTRY_COLUMNS },
  problems: { table: problems, columns: ENTRY_COLUMNS },
  vitals: { table: vitals, columns: ENTRY_COLUMNS },
  progress: { table: progressNotes, columns: ENTRY_COLUMNS },
  nursing: { table: nursingNotes, columns: ENTRY_COLUMNS },
  encounters: { table: encounters, columns: [...ENTRY_COLUMNS, 'billingStatus'] },
  pages: { table: chartPages, columns: ['patientId', 'section', 'pageNo', 'version', 'sealedEntries'] },
  heads: { table: chartSectionHeads, columns: ['patientId', 'section', 'sealedHead'] },
  // Also references user accounts, which other sessions may change: its checks are never skipped.
  team: { table: careTeam, columns: ['id', 'patientId', 'userId', 'relationship', 'authMac'], checked: true },
} as const satisfies Record<string, { table: PgTable; columns: readonly string[]; checked?: true }>;
type CopyTable = keyof typeof copyTables;

/**
 * The tables a fresh seed loads with their indexes built afterwards. All but patients are
 * truncated first (empty, and nothing references them); patients keeps its rows' WAL, since
 * truncating it would take every table that references it along.
 */
const seededTables = (() => {
  const all = Object.values(copyTables).map(({ table }) => getTableName(table));
  return { all, truncate: all.filter((name) => name !== getTableName(patients)) };
})();

/** A care-team row's COPY values, with the id its MAC names (lib/platform/integrity). */
function teamRow(patientId: string, userId: string, relationship: string): [string, string, string, string, string] {
  const row = withMac('care_team', { id: randomUUID(), patientId, userId, relationship, untilAt: null });
  return [row.id, patientId, userId, relationship, row.authMac];
}

/** A batch as PostgreSQL's COPY text format: one string of rows per table. */
export type CopyBatch = Record<CopyTable, string>;

/** A character COPY's text format would read as a delimiter, a row end or an escape. */
const COPY_SPECIAL = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * A value in COPY text format. Everything the seed writes is an id, a number, a timestamp, a
 * hex or base64url string or a fixed word, none of which needs escaping; the escape is kept so a
 * future column cannot break a row.
 */
function copyValue(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value === 'number') return String(value);
  COPY_SPECIAL.lastIndex = 0;
  return COPY_SPECIAL.test(value) ? value.replace(COPY_SPECIAL, (c) => COPY_ESCAPES[c]!) : value;
}

/** A table's rows in COPY text format: values, tabs and row ends in one list, joined once. */
class CopyRows {
  private readonly parts: string[] = [];
  add(...values: Array<string | number | null | undefined>): void {
    for (let i = 0; i < values.length; i++) this.parts.push(copyValue(values[i]), i === values.length - 1 ? '\n' : '\t');
  }
  text(): string {
    return this.parts.join('');
  }
}

/**
 * Generates and seals one batch of patients: pure computation (synthetic values, data keys
 * wrapped by the configured key provider, blind indexes, sealed pages and heads), so it runs
 * as well in a worker thread as here. Each patient is sealed exactly as the app seals.
 */
export function seedBatch({ from, to, seed, team }: SeedJob): CopyBatch {
  const rows = Object.fromEntries(Object.keys(copyTables).map((name) => [name, new CopyRows()])) as Record<CopyTable, CopyRows>;
  const indexes = blindIndexer();
  const newKey = patientKeyMaker();
  for (let index = from; index < to; index++) {
    const patientId = randomUUID();
    const { demographics, insurance, r } = syntheticPatient(index, seed);
    const { row: keyRow, cipher } = newKey(patientId);
    rows.keys.add(patientId, keyRow.wrappedKey, keyRow.masterKeyVersion);
    const p = patientRow(patientId, demographics, insurance, cipher, indexes);
    rows.patients.add(p.id, p.mrnIndex, p.dobIndex, p.lastNameIndex, p.lastNamePrefixIndex, p.sealedDemographics, p.sealedInsurance);
    const entries = clinicalEntries(r);
    /** A section's entries, sealed onto pages exactly as lib/features/records appends them. */
    const add = (list: CopyRows, section: EntrySection, items: Array<{ body: object; billingStatus?: string }>) => {
      const sorted = items
        .map(({ body, billingStatus }) => ({ id: randomUUID(), body: body as Record<string, unknown>, billingStatus, createdAt: recordedAt(body) }))
        .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
      const { pages, sealedHead, pageOf } = sealNewEntries(cipher, section, sorted);
      for (const page of pages) rows.pages.add(patientId, section, page.pageNo, page.version, page.sealedEntries);
      if (sealedHead !== undefined) rows.heads.add(patientId, section, sealedHead);
      for (const { id, billingStatus, createdAt } of sorted) {
        const at = createdAt.toISOString();
        if (billingStatus === undefined) list.add(id, patientId, pageOf.get(id), at, at);
        else list.add(id, patientId, pageOf.get(id), at, at, billingStatus);
      }
    };
    add(rows.allergies, 'allergies', entries.allergyRows.map((body) => ({ body })));
    add(rows.medications, 'medications', entries.medicationRows.map((body) => ({ body })));
    add(rows.problems, 'problems', entries.problemRows.map((body) => ({ body })));
    add(rows.vitals, 'vitals', entries.vitalRows.map((body) => ({ body })));
    add(rows.progress, 'progress_notes', entries.progressRows.map((body) => ({ body })));
    add(rows.nursing, 'nursing_notes', entries.nursingRows.map((body) => ({ body })));
    add(rows.encounters, 'encounters', entries.encounterRows.map(({ billingStatus, ...body }) => ({ body, billingStatus })));
    if (index < demoCaseload.physician) rows.team.add(...teamRow(patientId, team.physician, 'attending'));
    if (index < demoCaseload.nurse) rows.team.add(...teamRow(patientId, team.nurse, 'nursing'));
    if (index < demoCaseload.billing) rows.team.add(...teamRow(patientId, team.billing, 'billing'));
    if (index < demoCaseload.staff) for (const staff of team.staff) rows.team.add(...teamRow(patientId, staff, 'attending'));
  }
  return Object.fromEntries(Object.entries(rows).map(([name, list]) => [name, list.text()])) as CopyBatch;
}

/**
 * Writes one batch with COPY, in the writer's transaction: row-at-a-time INSERTs spent most of the seed
 * building and parsing SQL (drizzle's query builder alone was a quarter of the time), where
 * COPY hands the server rows it only has to store.
 *
 * Foreign-key checks were a third of PGlite's time and 40% of PostgreSQL's: a lookup and a row
 * lock on the patient for each of a patient's ~40 rows. Every row but the care team's
 * references only a patient that this same transaction inserts, which no other session can see
 * (let alone delete) before it commits, so none of those checks can fail. With `skipChecks`
 * (referenceChecks says when it is allowed) they are skipped for this transaction only, as
 * pg_restore skips them; the care team, which references user accounts, is checked as always,
 * and the batch ends with the checks back on for whatever the transaction does next.
 * Tests check the seeded rows' references afterwards.
 */
async function copyBatch(writer: CopyWriter, batch: Partial<CopyBatch>, skipChecks: boolean): Promise<void> {
  let skipping = false;
  for (const name of Object.keys(copyTables) as CopyTable[]) {
    const text = batch[name];
    if (!text) continue;
    const { table, columns } = copyTables[name];
    const skip = skipChecks && !('checked' in copyTables[name]);
    if (skip !== skipping) await writer.run(`SET LOCAL session_replication_role = ${skip ? 'replica' : 'origin'}`);
    skipping = skip;
    const names = columns.map((column) => `"${(table as unknown as Record<string, { name: string }>)[column]!.name}"`).join(', ');
    await writer.copy(`COPY "${getTableName(table)}" (${names}) FROM`, text);
  }
  if (skipping) await writer.run('SET LOCAL session_replication_role = origin');
}

/**
 * Whether copyBatch may skip the reference checks: only as a superuser (PGlite always is; on
 * PostgreSQL nobody else may set session_replication_role) and only while the seeded tables
 * have no triggers but those checks, since the setting would skip any other trigger too.
 */
async function referenceChecks(db: Db): Promise<'skippable' | 'kept'> {
  const tables = Object.values(copyTables).map(({ table }) => getTableName(table));
  const [row] = rowsOf<{ superuser: boolean; triggers: number }>(
    await db.execute(sql`SELECT current_setting('is_superuser') = 'on' AS superuser,
      (SELECT count(*)::int FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN (SELECT oid FROM pg_class WHERE relname IN ${tables} AND relnamespace = 'public'::regnamespace)) AS triggers`),
  );
  return row?.superuser && row.triggers === 0 ? 'skippable' : 'kept';
}

/**
 * Generates batches on `workers` threads while this one writes them, in order (so a seed that
 * adds batch by batch and is stopped leaves the first patients, and `countPatients` says where
 * to resume). At most two
 * batches per worker are generated ahead of the writer, which bounds the memory held.
 */
async function generateInWorkers(jobs: SeedJob[], workers: number, write: (batch: CopyBatch, job: SeedJob) => Promise<void>): Promise<void> {
  const pool = Array.from({ length: Math.min(workers, jobs.length) }, () => startSeedWorker());
  const done = new Map<number, CopyBatch>();
  const idle = [...pool];
  let failure: unknown;
  let notify: (() => void) | undefined;
  let next = 0;
  let written = 0;
  const dispatch = () => {
    while (idle.length > 0 && next < jobs.length && next - written < 2 * pool.length) idle.pop()!.postMessage(jobs[next++]);
  };
  for (const worker of pool) {
    worker.on('message', ({ from, batch }: { from: number; batch: CopyBatch }) => {
      done.set(from, batch);
      idle.push(worker);
      dispatch();
      notify?.();
    });
    worker.on('error', (error) => {
      failure = error;
      notify?.();
    });
    // A worker that ends without an error event (killed, out of memory) must not leave the writer waiting.
    worker.on('exit', (code) => {
      if (written < jobs.length) failure ??= new Error(`A seed worker stopped (exit code ${code}).`);
      notify?.();
    });
  }
  try {
    dispatch();
    for (const job of jobs) {
      while (!done.has(job.from)) {
        if (failure) throw failure;
        await new Promise<void>((resolve) => (notify = resolve));
      }
      const batch = done.get(job.from)!;
      done.delete(job.from);
      await write(batch, job);
      written += 1;
      dispatch();
    }
  } finally {
    await Promise.all(pool.map((worker) => worker.terminate()));
  }
}

/**
 * A worker thread running db/seed-worker.ts. The thread registers tsx itself: Node 20 does not
 * carry the parent's module hooks into a worker, so TypeScript would not load there otherwise.
 */
function startSeedWorker(): Worker {
  const url = new URL('./seed-worker.ts', import.meta.url).href;
  return new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url)}); })`, { eval: true });
}

/**
 * The blind indexes of synthetic patients, with the blind-index key read once: a last name's two
 * indexes are the same for every patient of that name (there are 30), so each is computed once
 * and reused; MRN and date of birth are computed for each patient.
 */
function blindIndexer() {
  const key = getKeyProvider().blindIndexKey();
  const byName = new Map<string, { lastNameIndex: string; lastNamePrefixIndex: string }>();
  return (demographics: Demographics) => {
    let name = byName.get(demographics.familyName);
    if (!name) {
      name = { lastNameIndex: blindIndex('last_name', demographics.familyName, key), lastNamePrefixIndex: blindIndex('last_name_prefix', demographics.familyName, key) };
      byName.set(demographics.familyName, name);
    }
    return { mrnIndex: blindIndex('mrn', demographics.mrn, key), dobIndex: blindIndex('dob', demographics.dateOfBirth, key), ...name };
  };
}
type BlindIndexer = ReturnType<typeof blindIndexer>;

/** A patient's row: blind indexes for search, demographics and insurance sealed with their key. */
function patientRow(patientId: string, demographics: Demographics, insurance: Insurance, cipher: PatientCipher, indexes: BlindIndexer) {
  return {
    id: patientId,
    ...indexes(demographics),
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
  const skipChecks = (await referenceChecks(db)) === 'skippable';
  const indexes = blindIndexer();
  const newKey = patientKeyMaker();
  for (let from = 0; from < options.patients; from += 1000) {
    const rows = { patients: new CopyRows(), keys: new CopyRows(), team: new CopyRows() };
    for (let index = from; index < Math.min(options.patients, from + 1000); index++) {
      const patientId = randomUUID();
      const { demographics, insurance } = syntheticPatient(index, options.seed ?? 42);
      const { row: keyRow, cipher } = newKey(patientId);
      rows.keys.add(patientId, keyRow.wrappedKey, keyRow.masterKeyVersion);
      const p = patientRow(patientId, demographics, insurance, cipher, indexes);
      rows.patients.add(p.id, p.mrnIndex, p.dobIndex, p.lastNameIndex, p.lastNamePrefixIndex, p.sealedDemographics, p.sealedInsurance);
      rows.team.add(...teamRow(patientId, options.userId, options.relationship ?? 'attending'));
      ids.push(patientId);
    }
    const batch = { patients: rows.patients.text(), keys: rows.keys.text(), team: rows.team.text() };
    await inCopyTransaction(db, (writer) => copyBatch(writer, batch, skipChecks));
  }
  return ids;
}

/** When a seeded entry was recorded: its own clinical date, so charts list entries newest first. */
function recordedAt(body: object): Date {
  const b = body as Record<string, unknown>;
  return new Date(String(b.takenAt ?? b.writtenAt ?? b.date ?? b.notedOn ?? b.startedOn ?? b.onsetOn));
}
