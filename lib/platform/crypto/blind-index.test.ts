/**
 * Blind-index search on 10,000 seeded patients: exact MRN, exact date of birth, last name
 * (case- and accent-insensitive) and a 3+ letter prefix find exactly the right patients, and
 * the stored index is a keyed, truncated MAC rather than a hash anyone could recompute.
 */
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf, type Db } from '@/db/client';
import { careTeam, patients } from '@/db/schema';
import { syntheticPatient } from '@/db/seed';
import type { Viewer } from '@/lib/domain/access/viewer';
import { listPatients, type PatientList } from '@/lib/features/records';
import type { TestDatabase } from '@/test/db';
import { testDatabase, viewer as signIn } from '@/test/fixtures';
import { withMac } from '@/lib/platform/integrity';
import { blindIndex, blindIndexBits, LAST_NAME_PREFIX_LENGTH, normaliseName, type BlindIndexKind } from '@/lib/platform/crypto/blind-index';

const PATIENTS = 10_000;
const SEED = 7;

let handle: TestDatabase;
let db: Db;
let viewer: Viewer;
const synthetic = Array.from({ length: PATIENTS }, (_, index) => syntheticPatient(index, SEED).demographics);

beforeAll(async () => {
  const started = Date.now();
  handle = await testDatabase({ patients: PATIENTS, seed: SEED, batchSize: 1_000 });
  db = handle.db;
  console.info(`[blind-index] seeded ${PATIENTS} patients in ${((Date.now() - started) / 1000).toFixed(1)} s (${handle.kind})`);
  // physician2 is on no care team after seeding: put them on every patient's, so search spans all 10,000.
  viewer = await signIn(db, 'physician2@vigil.test');
  // With their MACs, as Vigil writes care-team rows: a bare INSERT would be a forged row, and count for nothing.
  const ids = (await db.select({ id: patients.id }).from(patients)).map((p) => p.id);
  for (let i = 0; i < ids.length; i += 1_000) {
    await db.insert(careTeam).values(ids.slice(i, i + 1_000).map((patientId) => withMac('care_team', { id: randomUUID(), patientId, userId: viewer.userId, relationship: 'attending', untilAt: null })));
  }
}, 600_000);
afterAll(async () => handle?.close());

/** One page of a search the physician may run (a refusal fails the test). */
async function search(q: string, page?: number): Promise<PatientList> {
  const result = await listPatients(viewer, { q, page });
  if (!result.ok) throw new Error(`search ${q} was refused: ${result.message}`);
  return result.value;
}

/** Every MRN a search returns, across all pages. */
async function searchAll(q: string): Promise<{ mrns: string[]; searchedBy: string }> {
  const first = await search(q);
  const mrns = first.rows.map((r) => r.mrn);
  for (let page = 2; page <= first.pageCount; page++) {
    mrns.push(...(await search(q, page)).rows.map((r) => r.mrn));
  }
  expect(mrns).toHaveLength(first.total);
  return { mrns: mrns.sort(), searchedBy: first.searchedBy };
}

/**
 * The same result as `expected` without reading every page (each page is a full search): the
 * same total, and every row shown belongs. Used for the variants of a query already checked whole.
 */
async function expectSameResult(q: string, expected: string[]): Promise<void> {
  const first = await search(q);
  expect(first.total, q).toBe(expected.length);
  const wanted = new Set(expected);
  for (const row of first.rows) expect(wanted.has(row.mrn), `${q}: ${row.mrn}`).toBe(true);
}

const expectedMrns = (keep: (d: (typeof synthetic)[number]) => boolean) =>
  synthetic.filter(keep).map((d) => d.mrn).sort();

// Each page of a search is a search of the 10,000: a minute a test on a busy 2-core machine.
describe('blind-index search over 10,000 patients', { timeout: 180_000 }, () => {
  it('finds one patient by exact MRN, with or without an "MRN" prefix', async () => {
    for (const index of [0, 4_321, PATIENTS - 1]) {
      const mrn = synthetic[index]!.mrn;
      expect(await searchAll(mrn)).toEqual({ mrns: [mrn], searchedBy: 'mrn' });
      expect((await searchAll(`MRN ${mrn}`)).mrns).toEqual([mrn]);
    }
    expect((await searchAll('49999999')).mrns).toEqual([]);
  });

  it('finds every patient born on a date, and no one else', async () => {
    for (const index of [3, 5_000, 9_998]) {
      const dob = synthetic[index]!.dateOfBirth;
      const found = await searchAll(dob);
      expect(found.searchedBy).toBe('dob');
      expect(found.mrns).toEqual(expectedMrns((d) => d.dateOfBirth === dob));
    }
  });

  it('finds last names whatever the case and accents', async () => {
    const dvorak = expectedMrns((d) => d.familyName === 'Dvořák');
    expect(dvorak.length).toBeGreaterThan(100);
    expect(await searchAll('dvorak')).toEqual({ mrns: dvorak, searchedBy: 'last_name' });
    for (const q of ['Dvořák', 'DVORAK', 'dvořák']) await expectSameResult(q, dvorak);
    const sorensen = expectedMrns((d) => d.familyName === 'Sørensen');
    expect((await searchAll('sorensen')).mrns).toEqual(sorensen);
    await expectSameResult('Sørensen', sorensen);
    await expectSameResult('nunez', expectedMrns((d) => d.familyName === 'Núñez'));
    await expectSameResult("o'donnell", expectedMrns((d) => d.familyName === "O'Donnell"));
    await expectSameResult('ODonnell', expectedMrns((d) => d.familyName === "O'Donnell"));
  });

  it(`finds last names by a prefix of ${LAST_NAME_PREFIX_LENGTH} or more letters, and not by fewer`, async () => {
    const byPrefix = (q: string) => expectedMrns((d) => normaliseName(d.familyName).startsWith(normaliseName(q)));
    expect((await searchAll('kow')).mrns).toEqual(byPrefix('kow'));
    for (const q of ['Dvo', 'cas', 'castel', 'WHITC', 'mar']) await expectSameResult(q, byPrefix(q));
    expect((await searchAll('dv')).mrns).toEqual([]);
    expect((await searchAll('kowz')).mrns).toEqual([]);
  });
});

describe('what the blind index columns reveal', () => {
  const columns: Record<BlindIndexKind, string> = {
    mrn: 'mrn_index',
    dob: 'dob_index',
    last_name: 'last_name_index',
    last_name_prefix: 'last_name_prefix_index',
  };
  const inputs: Record<BlindIndexKind, (d: (typeof synthetic)[number]) => string> = {
    mrn: (d) => d.mrn,
    dob: (d) => d.dateOfBirth,
    last_name: (d) => normaliseName(d.familyName),
    last_name_prefix: (d) => normaliseName(d.familyName).slice(0, LAST_NAME_PREFIX_LENGTH),
  };

  /** The same truncation the blind index uses, over an unkeyed or publicly keyed digest. */
  function truncate(kind: BlindIndexKind, digest: Buffer): string {
    const bits = blindIndexBits[kind];
    return (digest.readUInt32BE(0) >>> (32 - bits)).toString(16).padStart(Math.ceil(bits / 4), '0');
  }
  const publicDigests: Record<string, (kind: BlindIndexKind, value: string) => Buffer> = {
    sha256: (_k, v) => createHash('sha256').update(v).digest(),
    md5: (_k, v) => createHash('md5').update(v).digest(),
    sha1: (_k, v) => createHash('sha1').update(v).digest(),
    'sha256(kind,value)': (k, v) => createHash('sha256').update(`${k}\u0000${v}`).digest(),
    'hmac(empty key)': (k, v) => createHmac('sha256', Buffer.alloc(0)).update(`${k}\u0000${v}`).digest(),
    'hmac(zero key)': (k, v) => createHmac('sha256', Buffer.alloc(32)).update(`${k}\u0000${v}`).digest(),
  };

  /** 1,000 distinct inputs of each kind, shaped like the real ones. */
  const letters = (i: number, length: number) =>
    Array.from({ length }, (_, k) => String.fromCharCode(97 + (Math.floor(i / 26 ** k) % 26))).join('');
  const distinctInputs: Record<BlindIndexKind, string[]> = {
    mrn: Array.from({ length: 1_000 }, (_, i) => String(40_000_000 + i * 7)),
    dob: Array.from({ length: 1_000 }, (_, i) => new Date(Date.UTC(1940, 0, 1) + i * 86_400_000 * 3).toISOString().slice(0, 10)),
    last_name: Array.from({ length: 1_000 }, (_, i) => `${letters(i, 3)}son`),
    last_name_prefix: Array.from({ length: 1_000 }, (_, i) => letters(i, 3)),
  };

  it('is not a plain hash of the value (nor an HMAC under a guessable key)', async () => {
    for (const kind of Object.keys(columns) as BlindIndexKind[]) {
      const stored = new Set(
        (await db.select({ v: sql<string>`${sql.raw(columns[kind])}` }).from(patients)).map((r) => r.v),
      );
      const seededValues = synthetic.slice(0, 1_000).map((d) => blindIndex(kind, inputs[kind](d)));
      expect(seededValues.every((v) => stored.has(v)), `${kind}: the stored index is the keyed one`).toBe(true);

      const ours = distinctInputs[kind].map((v) => blindIndex(kind, v));
      // A keyed MAC agrees with a public hash only by chance, about 1 in 2^bits of the time;
      // a plain hash under the same truncation would agree every time.
      const chance = 2 ** -blindIndexBits[kind];
      for (const [name, digest] of Object.entries(publicDigests)) {
        const agree = distinctInputs[kind].filter((v, i) => truncate(kind, digest(kind, v)) === ours[i]).length;
        expect(agree / ours.length, `${kind} vs ${name}`).toBeLessThan(3 * chance + 0.02);
      }
      const otherKey = randomBytes(32);
      const differ = distinctInputs[kind].filter((v, i) => blindIndex(kind, v, otherKey) !== ours[i]).length;
      expect(differ / ours.length, `${kind}: another key gives other values`).toBeGreaterThan(1 - 3 * chance - 0.02);
    }
  });

  it('groups several patients under each value (CipherSweet: between 2 and sqrt(rows) per value)', async () => {
    const report: Record<string, unknown> = {};
    for (const kind of Object.keys(columns) as BlindIndexKind[]) {
      const rows = rowsOf<{ n: number }>(await db.execute(sql.raw(`SELECT ${columns[kind]} AS v, count(*)::int AS n FROM patients GROUP BY 1`)));
      const counts = rows.map((r) => Number(r.n));
      const distinctValues = new Set(synthetic.map(inputs[kind])).size;
      report[kind] = {
        bits: blindIndexBits[kind],
        indexValues: counts.length,
        distinctPlaintexts: distinctValues,
        meanPatientsPerValue: +(PATIENTS / counts.length).toFixed(2),
        singletons: counts.filter((n) => n === 1).length,
        largest: Math.max(...counts),
      };
    }
    console.info(`[blind-index] leakage at ${PATIENTS} patients: ${JSON.stringify(report, null, 2)}`);
    // Unique or near-unique fields, measured: the buckets really are shared.
    const mean = (kind: BlindIndexKind) => (report[kind] as { meanPatientsPerValue: number }).meanPatientsPerValue;
    for (const kind of ['mrn', 'dob'] as const) {
      expect(mean(kind), kind).toBeGreaterThanOrEqual(2);
      expect(mean(kind), kind).toBeLessThanOrEqual(Math.sqrt(PATIENTS));
    }
  });

  it('keeps every field within the planner bounds from 10k to 1M patients (bits of one field add up)', () => {
    const fields: Record<string, BlindIndexKind[]> = { mrn: ['mrn'], dob: ['dob'], last_name: ['last_name', 'last_name_prefix'] };
    for (const population of [10_000, 100_000, 1_000_000]) {
      for (const [field, kinds] of Object.entries(fields)) {
        const coincidences = population / 2 ** kinds.reduce((sum, kind) => sum + blindIndexBits[kind], 0);
        expect(coincidences, `${field} at ${population}`).toBeGreaterThanOrEqual(2);
        expect(coincidences, `${field} at ${population}`).toBeLessThanOrEqual(Math.sqrt(population));
      }
    }
  });
});
