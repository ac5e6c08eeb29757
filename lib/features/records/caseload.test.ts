/**
 * A caseload of 5,000: every page of the list and of each kind of search is what decrypting the
 * whole caseload and sorting it says it must be, and a repeated list opens no envelope at all
 * while still seeing at once a patient whose demographics changed, was shredded or was tampered.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { patients } from '@/db/schema';
import { DEMO_PASSWORD, seedCaseload } from '@/db/seed';
import type { Demographics } from '@/lib/domain/chart/sections';
import type { Viewer } from '@/lib/domain/access/viewer';
import { requestGrant } from '@/lib/features/break-glass';
import { listPatients, PAGE_SIZE, type PatientListRow } from '@/lib/features/records';
import * as crypto from '@/lib/platform/crypto';
import { testDatabase, userId, viewer as signIn } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';

vi.mock('@/lib/platform/crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('@/lib/platform/crypto')>();
  return { ...original, getPatientCiphers: vi.fn(original.getPatientCiphers) };
});
const getPatientCiphers = vi.mocked(crypto.getPatientCiphers);

const CASELOAD = 5_000;
let handle: TestDatabase;
let physician: Viewer;
/** The caseload as decrypting every patient says it is. */
let everyone: Array<PatientListRow & { familyName: string }>;
/** Patients on the nurse's team only. */
let strangers: string[];

async function decryptEverything(ids: string[]) {
  const rows = await handle.db.select({ id: patients.id, sealed: patients.sealedDemographics }).from(patients);
  const wanted = new Set(ids);
  const { ciphers } = await crypto.getPatientCiphers(handle.db, ids);
  return rows
    .filter((r) => wanted.has(r.id) && ciphers.has(r.id))
    .map((r) => {
      const d = ciphers.get(r.id)!.open<Demographics>('patients', 'sealed_demographics', r.id, r.sealed);
      return { id: r.id, name: `${d.familyName}, ${d.givenName}`, dateOfBirth: d.dateOfBirth, mrn: d.mrn, sex: d.sex, access: 'care_team' as const, familyName: d.familyName };
    })
    .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

const plain = (rows: Array<PatientListRow & { familyName?: string }>) => rows.map(({ id, name, dateOfBirth, mrn, sex, access }) => ({ id, name, dateOfBirth, mrn, sex, access }));

/** Every page of a list or search, in order, with the total the first page reported. */
async function allPages(q: string): Promise<{ rows: PatientListRow[]; total: number }> {
  const rows: PatientListRow[] = [];
  let total = -1;
  for (let page = 1; ; page++) {
    const result = await listPatients(physician, { q, page });
    if (!result.ok) throw new Error(result.message);
    if (total < 0) total = result.value.total;
    expect(result.value.total).toBe(total);
    if (result.value.page !== page) break;
    rows.push(...result.value.rows);
    if (page >= result.value.pageCount) break;
  }
  return { rows, total };
}

/**
 * The unsearched list's pages, every `stride`-th one and the last (each page of 5,000 sorts the
 * whole caseload, so reading all 200 in every run would cost the suite a minute), each compared
 * with the same slice of the reference.
 */
async function sampledPages(expected: PatientListRow[], stride: number): Promise<void> {
  const pageCount = Math.ceil(expected.length / PAGE_SIZE);
  const pages = [...new Set([...Array.from({ length: Math.ceil(pageCount / stride) }, (_, i) => 1 + i * stride), pageCount])];
  for (const page of pages) {
    const result = await listPatients(physician, { q: '', page });
    if (!result.ok) throw new Error(result.message);
    expect({ page, total: result.value.total, rows: result.value.rows }).toEqual({ page, total: expected.length, rows: expected.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE) });
  }
}

beforeAll(async () => {
  handle = await testDatabase();
  const physicianId = await userId(handle.db, 'physician@vigil.test');
  const ids = await seedCaseload(handle.db, { patients: CASELOAD, userId: physicianId, seed: 7 });
  // Patients on someone else's team only: never in this list.
  strangers = await seedCaseload(handle.db, { patients: 30, userId: await userId(handle.db, 'nurse@vigil.test'), seed: 8, relationship: 'nursing' });
  physician = await signIn(handle.db, 'physician@vigil.test');
  everyone = await decryptEverything(ids);
}, 120_000);
afterAll(async () => handle?.close());

describe('a caseload of 5,000', () => {
  it('lists every patient, correctly sorted, page by page', async () => {
    expect(everyone).toHaveLength(CASELOAD);
    await sampledPages(plain(everyone), 9);
  }, 120_000);

  it('answers each kind of search exactly as a search of the decrypted caseload does', async () => {
    const norm = crypto.normaliseName;
    const sample = everyone[1234]!;
    const searches: Array<[string, (p: (typeof everyone)[number]) => boolean]> = [
      [sample.familyName, (p) => norm(p.familyName).startsWith(norm(sample.familyName))],
      [sample.familyName.slice(0, 3), (p) => norm(p.familyName).startsWith(norm(sample.familyName.slice(0, 3)))],
      [sample.dateOfBirth, (p) => p.dateOfBirth === sample.dateOfBirth],
      [sample.mrn, (p) => p.mrn === sample.mrn],
      [`${sample.familyName} ${sample.dateOfBirth}`, (p) => p.dateOfBirth === sample.dateOfBirth && norm(p.familyName) === norm(sample.familyName)],
    ];
    for (const [q, wanted] of searches) {
      const expected = plain(everyone.filter(wanted));
      const { rows, total } = await allPages(q);
      expect({ q, total, rows }).toEqual({ q, total: expected.length, rows: expected });
    }
    // The searches above found something (a search that finds nothing proves little).
    expect(everyone.filter(searches[0]![1]).length).toBeGreaterThan(50);
  }, 120_000);

  it('opens no envelope for a list it has already opened, yet sees a changed, shredded or tampered patient at once', async () => {
    await listPatients(physician, {});
    getPatientCiphers.mockClear();
    const again = await listPatients(physician, {});
    expect(again.ok && again.value.total).toBe(CASELOAD);
    expect(getPatientCiphers.mock.calls.flatMap(([, ids]) => ids)).toEqual([]);

    const [renamed, shredded, tampered, donor] = [everyone[10]!, everyone[20]!, everyone[30]!, everyone[40]!];
    const { ciphers } = await crypto.getPatientCiphers(handle.db, [renamed.id]);
    const [row] = await handle.db.select({ sealed: patients.sealedDemographics }).from(patients).where(eq(patients.id, renamed.id));
    const demographics = ciphers.get(renamed.id)!.open<Demographics>('patients', 'sealed_demographics', renamed.id, row!.sealed);
    const newName = { ...demographics, familyName: 'Zzyzx' };
    await handle.db.update(patients).set({ sealedDemographics: ciphers.get(renamed.id)!.seal('patients', 'sealed_demographics', renamed.id, newName) }).where(eq(patients.id, renamed.id));
    await crypto.shredPatientKey(handle.db, shredded.id);
    const [donorRow] = await handle.db.select({ sealed: patients.sealedDemographics }).from(patients).where(eq(patients.id, donor.id));
    // Another patient's envelope copied over this one's: bound to its own row, it must not open here.
    await handle.db.update(patients).set({ sealedDemographics: donorRow!.sealed }).where(eq(patients.id, tampered.id));

    const after = await listPatients(physician, { q: '', page: Math.ceil(CASELOAD / PAGE_SIZE) });
    if (!after.ok) throw new Error(after.message);
    expect(after.value.total).toBe(CASELOAD - 2);
    expect(after.value.unavailable).toBe(1);
    expect(after.value.rows.at(-1)).toMatchObject({ id: renamed.id, name: `Zzyzx, ${demographics.givenName}` });
    const renamedRow = { ...plain([renamed])[0]!, name: `Zzyzx, ${demographics.givenName}` };
    await sampledPages([...plain(everyone.filter((p) => p !== shredded && p !== tampered && p !== renamed)), renamedRow], 23);
  }, 120_000);

  it('lists a patient this session reached by break-glass, as break-glass, and finds them by search; another session does not', async () => {
    const before = await listPatients(physician, {});
    if (!before.ok) throw new Error(before.message);
    const [stranger] = await decryptEverything([strangers[0]!]);
    const own = await allPages(stranger!.mrn);
    const granted = await requestGrant(physician, {
      patientId: stranger!.id,
      reasonCode: 'emergency_treatment',
      justification: 'Synthetic emergency: patient arrived unresponsive, need the chart now.',
      secret: DEMO_PASSWORD,
    });
    expect(granted.ok).toBe(true);

    const after = await listPatients(physician, {});
    expect(after.ok && after.value.total).toBe(before.value.total + 1);
    // The synthetic caseloads share MRNs, so the search finds own patients beside this one.
    const { rows } = await allPages(stranger!.mrn);
    expect(rows.filter((r) => r.access === 'break_glass')).toEqual([{ ...plain([stranger!])[0], access: 'break_glass' }]);
    expect(rows.filter((r) => r.access === 'care_team')).toEqual(own.rows);

    const otherSession = await signIn(handle.db, 'physician@vigil.test');
    const elsewhere = await listPatients(otherSession, { q: stranger!.mrn });
    if (!elsewhere.ok) throw new Error(elsewhere.message);
    expect(elsewhere.value.rows.map((r) => r.access)).not.toContain('break_glass');
  }, 120_000);
});
