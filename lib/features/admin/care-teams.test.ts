/**
 * Care-team administration: an admin names a patient by MRN only (an audited lookup that
 * returns the id and MRN and nothing else), assigns staff whose role fits the relationship, and
 * ends assignments — which opens and closes the chart for that person, through their role's lens.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { and, desc, eq } from 'drizzle-orm';
import { auditLog, careTeam } from '@/db/schema';
import { DEMO_PASSWORD, syntheticPatient } from '@/db/seed';
import type { Viewer } from '@/lib/domain/access/viewer';
import { getChart } from '@/lib/features/records/chart';
import { createStaff, PATIENTS_WITH_STRANGERS, strangerPatients, testDatabase, viewer } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { approve, secondAdmin } from '@/test/approvals';
import { assignableStaff, assignmentsOf, assignToCareTeam, careTeamOf, findPatient, removeFromCareTeam } from '@/lib/features/admin/care-teams';
import { createUser, setUserRoles } from '@/lib/features/admin/users';

let handle: TestDatabase;
let admin: Viewer;
let strangerId: string;
/** MRN of seed patient 102 (on nobody's care team with 104 patients). */
const strangerMrn = syntheticPatient(102, 42).demographics.mrn;

beforeAll(async () => {
  handle = await testDatabase({ patients: PATIENTS_WITH_STRANGERS });
  const found = await findPatient(await viewer(handle.db, 'admin@vigil.test'), strangerMrn);
  if (!found.ok) throw new Error(found.message);
  strangerId = found.value.patientId;
  expect(await strangerPatients(handle.db)).toContain(strangerId);
});

beforeEach(async () => {
  admin = await viewer(handle.db, 'admin@vigil.test');
});

afterAll(async () => {
  await handle?.close();
});

async function lastAudit(action: string) {
  const [row] = await handle.db.select().from(auditLog).where(eq(auditLog.actionType, action)).orderBy(desc(auditLog.seq)).limit(1);
  return row;
}

describe('finding a patient by MRN', () => {
  it('returns only the id and MRN, and the lookup is audited against that patient', async () => {
    const found = await findPatient(admin, ` ${strangerMrn} `);
    expect(found.ok).toBe(true);
    if (!found.ok) return;
    expect(Object.keys(found.value).sort()).toEqual(['mrn', 'patientId']);
    expect(found.value.mrn).toBe(strangerMrn);
    expect(await lastAudit('patient.lookup')).toMatchObject({
      userId: admin.userId,
      outcome: 'allowed',
      patientId: found.value.patientId,
      details: { by: 'mrn', purpose: 'care_team', found: true },
    });
  });

  it('says plainly when no patient has the MRN, or the MRN is malformed', async () => {
    expect(await findPatient(admin, '99999999999')).toMatchObject({ ok: false, error: 'invalid', fieldErrors: { mrn: 'No patient has that MRN.' } });
    expect(await findPatient(admin, "1' OR '1'='1")).toMatchObject({ ok: false, error: 'invalid', fieldErrors: { mrn: expect.stringMatching(/only letters, digits/) } });
  });

  it('is denied to clinicians (they have their own patient list) and audited', async () => {
    const physician = await viewer(handle.db, 'physician@vigil.test');
    expect(await findPatient(physician, strangerMrn)).toMatchObject({ ok: false, error: 'denied' });
    expect((await lastAudit('care_team.view'))?.outcome).toBe('denied');
  });
});

describe('assigning and removing', () => {
  it('the full path: create a nurse, assign them, they see the nurse lens; remove them, the chart closes', async () => {
    const email = `nurse-${Date.now()}@vigil.test`;
    await approve(await secondAdmin(handle.db), await createUser(admin, { email, displayName: 'Nurse New', password: DEMO_PASSWORD, passwordConfirm: DEMO_PASSWORD, roles: ['nurse'] }));
    const nurse = await viewer(handle.db, email);
    const created = { value: { id: nurse.userId } };
    expect(await getChart(nurse, strangerId)).toMatchObject({ ok: false, error: 'break_glass_offered' });

    const assigned = await assignToCareTeam(admin, { patientId: strangerId, userId: created.value.id, relationship: 'nursing' });
    expect(assigned.ok).toBe(true);
    if (!assigned.ok) return;
    expect(await lastAudit('care_team.assign')).toMatchObject({
      outcome: 'allowed',
      patientId: strangerId,
      resourceId: assigned.value.assignmentId,
      details: { after: { userId: created.value.id, relationship: 'nursing' } },
    });

    const chart = await getChart(nurse, strangerId);
    if (!chart.ok) throw new Error('the chart should open after assignment');
    expect(Object.keys(chart.value.sections).sort()).toEqual(['allergies', 'medications', 'nursing_notes', 'problems', 'vitals']);
    expect(chart.value.insurance).toBeNull();

    const team = await careTeamOf(admin, strangerId);
    expect(team).toMatchObject({ ok: true, value: { patient: { patientId: strangerId, mrn: strangerMrn }, members: [{ email, relationship: 'nursing' }] } });
    expect(await assignmentsOf(admin, created.value.id)).toMatchObject({ ok: true, value: [{ patientId: strangerId, relationship: 'nursing' }] });

    expect(await removeFromCareTeam(admin, { assignmentId: assigned.value.assignmentId })).toMatchObject({ ok: true });
    expect((await lastAudit('care_team.unassign'))?.patientId).toBe(strangerId);
    expect(await getChart(nurse, strangerId)).toMatchObject({ ok: false });
    const [row] = await handle.db.select().from(careTeam).where(eq(careTeam.id, assigned.value.assignmentId));
    expect(row?.untilAt, 'the ended assignment is kept as history').not.toBeNull();
  });

  it('a relationship must fit a role the person holds', async () => {
    const clerk = await createStaff(handle.db, { roles: ['billing'] });
    const result = await assignToCareTeam(admin, { patientId: strangerId, userId: clerk.id, relationship: 'attending' });
    expect(result).toMatchObject({ ok: false, error: 'invalid', fieldErrors: { relationship: expect.stringMatching(/needs the physician role/) } });
    expect(await handle.db.select().from(careTeam).where(and(eq(careTeam.userId, clerk.id)))).toEqual([]);
    expect(await assignToCareTeam(admin, { patientId: strangerId, userId: clerk.id, relationship: 'billing' })).toMatchObject({ ok: true });
    expect(await assignToCareTeam(admin, { patientId: strangerId, userId: clerk.id, relationship: 'billing' })).toMatchObject({ ok: false, error: 'duplicate' });
  });

  it('rule 1: an admin who also treats patients cannot put themselves on a care team', async () => {
    const both = await createStaff(handle.db, { roles: ['admin'] });
    await approve(await secondAdmin(handle.db), await setUserRoles(admin, { userId: both.id, roles: ['admin', 'physician'] }));
    const doctorAdmin = await viewer(handle.db, both.email);
    const result = await assignToCareTeam(doctorAdmin, { patientId: strangerId, userId: both.id, relationship: 'attending' });
    expect(result).toMatchObject({ ok: false, error: 'self_change' });
    expect(await lastAudit('care_team.assign')).toMatchObject({ outcome: 'denied', userId: both.id, details: { reason: 'self_change' } });
    expect(await getChart(doctorAdmin, strangerId)).toMatchObject({ ok: false });
  });

  it('refuses unknown patients, disabled staff and tampered fields', async () => {
    const nurse = await createStaff(handle.db, { roles: ['nurse'] });
    expect(await assignToCareTeam(admin, { patientId: crypto.randomUUID(), userId: nurse.id, relationship: 'nursing' })).toMatchObject({ error: 'not_found' });
    expect(await assignToCareTeam(admin, { patientId: strangerId, userId: nurse.id, relationship: 'owner' })).toMatchObject({ error: 'invalid' });
    expect(await assignToCareTeam(admin, { patientId: 'x', userId: nurse.id, relationship: 'nursing' })).toMatchObject({ error: 'invalid' });
    expect(await removeFromCareTeam(admin, { assignmentId: crypto.randomUUID() })).toMatchObject({ error: 'not_found' });
    const physician = await viewer(handle.db, 'physician@vigil.test');
    expect(await assignToCareTeam(physician, { patientId: strangerId, userId: physician.userId, relationship: 'attending' })).toMatchObject({ error: 'denied' });
  });

  it('offers only enabled staff with a role that can hold a relationship', async () => {
    const result = await assignableStaff(admin);
    if (!result.ok) throw new Error(result.message);
    const emails = result.value.map((s) => s.email);
    expect(emails).toContain('nurse@vigil.test');
    expect(emails).toContain('billing@vigil.test');
    expect(emails).not.toContain('admin@vigil.test');
    expect(emails).not.toContain('privacy@vigil.test');
  });
});
