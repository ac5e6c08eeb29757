/**
 * The emergency lookup: exact identifiers only, restricted rows of nothing but identity, every
 * lookup audited, a burst of them a case for the privacy officer, and nobody left to find after a shred.
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '@/db/client';
import { auditLog, incidents } from '@/db/schema';
import { syntheticPatient } from '@/db/seed';
import type { Viewer } from '@/lib/domain/access/viewer';
import { emergencyQueryMessages } from '@/lib/domain/records/emergency-query';
import { shredPatient } from '@/lib/ops/keys/shred';
import { emergencyLookup, listPatients } from '@/lib/features/records';
import { auditHead, auditOfActionSince, testDatabase, viewer as signIn, userId } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';

const SEED = 42;
const PATIENTS = 20;
let handle: TestDatabase;
let db: Db;
let physician2: Viewer;
const wristband = syntheticPatient(12, SEED).demographics;

beforeAll(async () => {
  handle = await testDatabase({ patients: PATIENTS, seed: SEED });
  db = handle.db;
  physician2 = await signIn(db, 'physician2@vigil.test');
});
afterAll(async () => handle?.close());

async function lookUp(viewer: Viewer, q: string) {
  const result = await emergencyLookup(viewer, { q });
  if (!result.ok) throw new Error(`lookup refused: ${result.message}`);
  return result.value;
}

describe('emergency lookup', () => {
  it('finds a patient outside the care team by the MRN on a wristband, as a restricted row of identity only', async () => {
    const since = await auditHead(db);
    const found = await lookUp(physician2, wristband.mrn);
    expect(found.searchedBy).toBe('mrn');
    expect(found.rows).toHaveLength(1);
    const row = found.rows[0]!;
    expect(Object.keys(row).sort()).toEqual(['dateOfBirth', 'id', 'mrn', 'name', 'sex']);
    expect(row).toMatchObject({ mrn: wristband.mrn, dateOfBirth: wristband.dateOfBirth, sex: wristband.sex, name: `${wristband.familyName}, ${wristband.givenName}` });
    // Nothing else of the demographics travels with it.
    const text = JSON.stringify(found);
    for (const other of [wristband.phone, wristband.email, wristband.address.line1, wristband.address.postalCode]) expect(text).not.toContain(other);

    const [entry] = await auditOfActionSince(db, since, 'patient.emergency_lookup');
    expect(entry).toMatchObject({ outcome: 'allowed', userId: physician2.userId, patientId: row.id, details: { searchedBy: 'mrn', results: 1, shown: [row.id] } });
    expect(JSON.stringify(entry)).not.toContain(wristband.mrn);
  });

  it('finds them by last name together with date of birth, in any case and accent', async () => {
    const found = await lookUp(physician2, `${wristband.familyName.toUpperCase()} ${wristband.dateOfBirth}`);
    expect(found.searchedBy).toBe('last_name_dob');
    expect(found.rows.map((r) => r.mrn)).toContain(wristband.mrn);
    expect(found.rows.every((r) => r.dateOfBirth === wristband.dateOfBirth)).toBe(true);
  });

  it.each([
    ['a last name alone', () => wristband.familyName],
    ['a prefix', () => wristband.familyName.slice(0, 3)],
    ['a date of birth alone', () => wristband.dateOfBirth],
    ['a partial MRN', () => wristband.mrn.slice(0, 4)],
  ])('refuses %s, says why, and looks nothing up', async (_, q) => {
    const since = await auditHead(db);
    expect(await emergencyLookup(physician2, { q: q() })).toEqual({ ok: false, error: 'too_broad', message: emergencyQueryMessages.too_broad });
    expect(await auditOfActionSince(db, since, 'patient.emergency_lookup')).toHaveLength(0);
  });

  it('shows no restricted row for a patient the viewer already has: the ordinary list does', async () => {
    const physician = await signIn(db, 'physician@vigil.test');
    const own = await listPatients(physician, { q: wristband.mrn });
    expect(own.ok && own.value.rows.map((r) => r.mrn)).toEqual([wristband.mrn]);
    expect((await lookUp(physician, wristband.mrn)).rows).toEqual([]);
  });

  it.each(['billing@vigil.test', 'admin@vigil.test'])('%s may not look anyone up: refused and audited', async (email) => {
    const viewer = await signIn(db, email);
    const since = await auditHead(db);
    expect(await emergencyLookup(viewer, { q: wristband.mrn })).toMatchObject({ ok: false, error: 'denied' });
    const [entry] = await auditOfActionSince(db, since, 'patient.emergency_lookup');
    expect(entry).toMatchObject({ outcome: 'denied', userId: viewer.userId });
  });

  const casesOf = async (uid: string) => db.select().from(incidents).where(and(eq(incidents.userId, uid), eq(incidents.rule, 'emergency_lookups')));
  const mrns = Array.from({ length: PATIENTS }, (_, i) => syntheticPatient(i, SEED).demographics.mrn);

  it('a burst of lookups that show patients opens a monitoring case for the person, not before the threshold', async () => {
    // staff02 is on the team of the first 10 patients: the other 10 are strangers to them.
    const staff = await signIn(db, 'staff02@vigil.test');
    const outside = [];
    for (const mrn of mrns) if ((await lookUp(staff, mrn)).rows.length > 0) outside.push(mrn);
    expect(outside).toHaveLength(10);
    const [opened] = await casesOf(staff.userId);
    expect(opened).toMatchObject({ severity: 'HIGH', status: 'open', details: { lookups: 10, threshold: 10 } });
    expect(opened!.details.patientIds).toHaveLength(10);
    expect(await userId(db, 'staff02@vigil.test')).toBe(opened!.userId);
  });

  it('lookups that find nobody outside the care team (own patients by MRN) are audited but not counted', async () => {
    // Every one of the 20 patients is on the nurse's team.
    const nurse = await signIn(db, 'nurse@vigil.test');
    const since = await auditHead(db);
    for (const mrn of mrns.slice(0, 12)) expect((await lookUp(nurse, mrn)).rows).toEqual([]);
    expect(await auditOfActionSince(db, since, 'patient.emergency_lookup')).toHaveLength(12);
    expect(await casesOf(nurse.userId)).toHaveLength(0);
  });

  it('finds nobody once the patient is shredded', async () => {
    const [row] = (await lookUp(physician2, wristband.mrn)).rows;
    expect(await shredPatient(db, row!.id, { userId: null, userAgent: 'vitest' })).toMatchObject({ status: 'shredded' });
    expect((await lookUp(physician2, wristband.mrn)).rows).toEqual([]);
    const entries = await db.select().from(auditLog).where(eq(auditLog.actionType, 'patient.emergency_lookup'));
    expect(entries.length).toBeGreaterThan(0);
  });
});
