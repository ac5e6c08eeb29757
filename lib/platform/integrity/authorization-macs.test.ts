/**
 * Direct writes to the authorization tables, made as the app's own database role (on PostgreSQL;
 * PGlite has one role), are refused on the next request and open a HIGH case naming the table and
 * the row, while the rows Vigil wrote keep working. The lists that show every row — the privacy
 * officers' review queue, the administrators' user and care-team pages — show a tampered row as
 * tampered, never as the access or verdict it claims.
 */
import { randomUUID } from 'node:crypto';
import { and, eq, sql, type SQL } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle, type Db } from '@/db/client';
import { auditLog, breakGlassGrants, incidents, patients, sessions, users } from '@/db/schema';
import { DEMO_PASSWORD } from '@/db/seed';
import { signInWithPassword } from '@/lib/features/auth/login';
import { resolveViewerState } from '@/lib/features/auth/viewer-state';
import { hashPassword } from '@/lib/features/credentials/passwords';
import { createSession, revokeSession } from '@/lib/features/credentials/sessions';
import { getChart, listPatients } from '@/lib/features/records';
import { getGrantReview, listReviewQueue, reviewGrant } from '@/lib/features/break-glass';
import { enabledAdministrators } from '@/lib/features/admin/users';
import { getMonitorConfig } from '@/lib/features/monitor/config';
import { loadUserProfile } from '@/lib/features/monitor/profile';
import { assignableStaff, assignmentsOf, assignToCareTeam, careTeamOf as patientCareTeam, getUser, listUsers } from '@/lib/features/admin';
import { loadRelationship } from '@/lib/pipeline/relationship';
import { getPatientCipher } from '@/lib/platform/crypto';
import { unsetUserMacFields, updateWithMac, withMac } from '@/lib/platform/integrity';
import { appRoleUrl, testDatabaseKind, type TestDatabase } from '@/test/db';
import { careTeamOf } from '@/test/audit-fixtures';
import { createStaff, later, minutes, testDatabase, viewer } from '@/test/fixtures';

const client = { ip: '198.51.100.7', userAgent: 'vitest' };
let handle: TestDatabase;
let db: Db;
/** The connection the tamperer writes through: the app's own role on PostgreSQL. */
let app: DatabaseHandle | undefined;

beforeAll(async () => {
  handle = await testDatabase({ patients: 6 });
  db = handle.db;
  if (testDatabaseKind === 'postgres') {
    const url = appRoleUrl(handle.url!);
    expect(url, 'VIGIL_TEST_APP_DATABASE_URL must name the vigil_app role').toBeDefined();
    app = await openDatabase({ url, max: 1 });
  }
});
afterAll(async () => {
  await app?.close();
  await handle?.close();
});

async function tamper(statement: SQL): Promise<void> {
  await (app?.db ?? db).execute(statement);
}

/** The HIGH cases naming this row of this table (a user's case of the hour collects every row that failed in it). */
async function tamperCases(table: string, rowId: string) {
  const rows = await db.select().from(incidents).where(eq(incidents.rule, 'tampered_row'));
  return rows.filter((r) => r.severity === 'HIGH' && JSON.stringify(r.details).includes(`"${table}"`) && JSON.stringify(r.details).includes(`"${rowId}"`));
}

const resolve = (sessionId: string, at = new Date()) => resolveViewerState(db, sessionId, client, { at, touch: 'never' });

describe('sessions', () => {
  it('an extended expiry is no session, and opens a case naming the row', async () => {
    const { id: userId } = await createStaff(db, { roles: ['nurse'] });
    const session = await createSession(db, userId, client);
    expect((await resolve(session.id)).viewer?.userId).toBe(userId);

    await tamper(sql`UPDATE sessions SET expires_at = expires_at + interval '30 days' WHERE id = ${session.id}`);
    expect(await resolve(session.id)).toEqual({ viewer: null, reason: 'missing' });
    expect(await tamperCases('sessions', session.id)).toHaveLength(1);
    // Reported once, not on every request that meets the row.
    await resolve(session.id);
    expect(await tamperCases('sessions', session.id)).toHaveLength(1);
  });

  it('an un-revoked session stays ended, and a bumped last_seen_at does not keep an idle one alive', async () => {
    const { id: userId } = await createStaff(db, { roles: ['nurse'] });
    const revoked = await createSession(db, userId, client);
    expect(await revokeSession(db, revoked.id, 'signed_out')).toBe(true);
    await tamper(sql`UPDATE sessions SET revoked_at = NULL, revoked_reason = NULL WHERE id = ${revoked.id}`);
    expect(await resolve(revoked.id)).toEqual({ viewer: null, reason: 'missing' });
    expect(await tamperCases('sessions', revoked.id)).toHaveLength(1);

    const idleSince = new Date(Date.now() - minutes(60));
    const idle = await createSession(db, userId, client, idleSince);
    await tamper(sql`UPDATE sessions SET last_seen_at = ${new Date().toISOString()}::timestamptz WHERE id = ${idle.id}`);
    expect(await resolve(idle.id)).toEqual({ viewer: null, reason: 'missing' });
    expect(await tamperCases('sessions', idle.id)).toHaveLength(1);
  });

  it('a session Vigil touches and re-authenticates keeps working', async () => {
    const { id: userId } = await createStaff(db, { roles: ['nurse'] });
    const at = new Date();
    const session = await createSession(db, userId, client, at);
    const touched = await resolveViewerState(db, session.id, client, { at: later(at, minutes(5)), touch: 'always' });
    expect(touched.viewer?.sessionId).toBe(session.id);
    await updateWithMac(db, 'sessions', eq(sessions.id, session.id), { reauthenticatedAt: later(at, minutes(6)) });
    expect((await resolve(session.id, later(at, minutes(7)))).viewer?.sessionId).toBe(session.id);
    expect(await tamperCases('sessions', session.id)).toHaveLength(0);
  });
});

describe('users', () => {
  it('a cleared disabled_at leaves the account disabled', async () => {
    const staff = await createStaff(db, { roles: ['nurse'] });
    await updateWithMac(db, 'users', eq(users.id, staff.id), { disabledAt: new Date(), disabledReason: 'left' });
    await tamper(sql`UPDATE users SET disabled_at = NULL, disabled_reason = NULL WHERE id = ${staff.id}`);

    const signIn = await signInWithPassword({ email: staff.email, password: DEMO_PASSWORD }, client);
    expect(signIn.ok).toBe(false);
    const session = await createSession(db, staff.id, client);
    expect(await resolve(session.id)).toEqual({ viewer: null, reason: 'disabled' });
    expect(await tamperCases('users', staff.id)).toHaveLength(1);
  });

  it('a password hash copied from another account does not sign in with that password', async () => {
    const id = randomUUID();
    const email = `victim-${id.slice(0, 8)}@test.vigil`;
    await db.insert(users).values(withMac('users', { ...unsetUserMacFields, id, email, displayName: 'Victim', passwordHash: await hashPassword('Victims-own-passphrase-1') }));
    expect((await signInWithPassword({ email, password: 'Victims-own-passphrase-1' }, client)).ok).toBe(true);

    await tamper(sql`UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE email = 'nurse@vigil.test') WHERE id = ${id}`);
    const copied = await signInWithPassword({ email, password: DEMO_PASSWORD }, client);
    expect(copied.ok).toBe(false);
    expect(await tamperCases('users', id)).toHaveLength(1);
  });
});

describe('user_roles', () => {
  it('a role row inserted directly grants nothing, even carrying another row’s MAC', async () => {
    const staff = await createStaff(db, { roles: ['nurse'] });
    const session = await createSession(db, staff.id, client);
    expect((await resolve(session.id)).viewer?.roles).toEqual(['nurse']);

    await tamper(sql`INSERT INTO user_roles (user_id, role_name) VALUES (${staff.id}, 'physician')`);
    await tamper(
      sql`INSERT INTO user_roles (user_id, role_name, auth_mac) SELECT ${staff.id}, 'admin', auth_mac FROM user_roles WHERE role_name = 'admin' LIMIT 1`,
    );
    const state = await resolve(session.id);
    expect(state.viewer?.roles).toEqual(['nurse']);
    expect(state.viewer?.permissions.admin).toBeUndefined();
    // One case per person and hour, naming the latest row; the trail names each row.
    expect(await tamperCases('user_roles', `${staff.id}/admin`)).toHaveLength(1);
    const entries = await db.select().from(auditLog).where(and(eq(auditLog.actionType, 'integrity.tampered'), eq(auditLog.resourceType, 'user_roles')));
    expect(entries.map((e) => e.resourceId)).toEqual(expect.arrayContaining([`${staff.id}/physician`, `${staff.id}/admin`]));
  });
});

describe('care_team', () => {
  it('a care-team row inserted directly opens no chart and lists no patient', async () => {
    const outsider = await viewer(db, 'physician2@vigil.test');
    const [patient] = await db.select({ id: patients.id, sealed: patients.sealedDemographics }).from(patients).limit(1);
    const rowId = randomUUID();
    await tamper(sql`INSERT INTO care_team (id, patient_id, user_id, relationship) VALUES (${rowId}, ${patient!.id}, ${outsider.userId}, 'attending')`);

    expect((await getChart(outsider, patient!.id)).ok).toBe(false);
    const list = await listPatients(outsider, { q: '' });
    expect(list.ok && list.value.rows.map((r) => r.id)).not.toContain(patient!.id);
    // A search reads the ties of its candidates only; the forged one among them still ties nobody.
    const { cipher } = await getPatientCipher(db, patient!.id);
    const { mrn } = cipher!.open<{ mrn: string }>('patients', 'sealed_demographics', patient!.id, patient!.sealed);
    const search = await listPatients(outsider, { q: mrn });
    expect(search.ok && search.value.rows.map((r) => r.id)).not.toContain(patient!.id);
    expect((await loadRelationship(db, outsider, patient!.id)).careTeam).toBeNull();
    expect(await tamperCases('care_team', rowId)).toHaveLength(1);
  });

  it('an ended assignment un-ended directly stays ended; the rows Vigil wrote still open charts', async () => {
    const physician = await viewer(db, 'physician@vigil.test');
    const [first, second] = await careTeamOf(db, 'physician@vigil.test');
    expect((await getChart(physician, first!)).ok).toBe(true);

    const staff = await viewer(db, (await createStaff(db, { roles: ['physician'], careTeam: [{ patientId: second!, relationship: 'attending' }] })).email);
    expect((await loadRelationship(db, staff, second!)).careTeam).toEqual(['attending']);
    const [row] = await updateWithMac(db, 'care_team', sql`user_id = ${staff.userId} AND patient_id = ${second!}`, { untilAt: new Date(Date.now() - 1000) });
    expect((await loadRelationship(db, staff, second!)).careTeam).toBeNull();
    await tamper(sql`UPDATE care_team SET until_at = NULL WHERE id = ${row!.id}`);
    expect((await loadRelationship(db, staff, second!)).careTeam).toBeNull();
    expect(await tamperCases('care_team', row!.id)).toHaveLength(1);
  });
});

describe('break_glass_grants', () => {
  async function grantFor(subject: { userId: string; sessionId: string }, patientId: string, expiresAt: Date): Promise<string> {
    const id = randomUUID();
    const { cipher } = await getPatientCipher(db, patientId);
    await db.insert(breakGlassGrants).values(
      withMac('break_glass_grants', {
        id,
        userId: subject.userId,
        patientId,
        sessionId: subject.sessionId,
        reasonCode: 'other',
        sealedJustification: cipher!.seal('break_glass_grants', 'sealed_justification', id, 'Covering the ward overnight for the treating team.'),
        expiresAt,
        endedAt: null,
        reviewStatus: 'pending',
        reviewerId: null,
        reviewedAt: null,
      }),
    );
    return id;
  }

  it('an extended grant stays expired; a grant marked reviewed directly stops counting', async () => {
    const outsider = await viewer(db, 'physician2@vigil.test');
    const [a, b] = (await db.select({ id: patients.id }).from(patients).orderBy(patients.id).limit(2)).map((p) => p.id);

    const expired = await grantFor(outsider, a!, new Date(Date.now() - 1000));
    await tamper(sql`UPDATE break_glass_grants SET expires_at = now() + interval '1 day' WHERE id = ${expired}`);
    expect((await loadRelationship(db, outsider, a!)).breakGlassGrantId).toBeNull();
    expect((await getChart(outsider, a!)).ok).toBe(false);
    expect(await tamperCases('break_glass_grants', expired)).toHaveLength(1);

    const live = await grantFor(outsider, b!, new Date(Date.now() + minutes(30)));
    expect((await loadRelationship(db, outsider, b!)).breakGlassGrantId).toBe(live);
    await tamper(sql`UPDATE break_glass_grants SET review_status = 'appropriate', reviewed_at = now() WHERE id = ${live}`);
    expect((await loadRelationship(db, outsider, b!)).breakGlassGrantId).toBeNull();
    expect(await tamperCases('break_glass_grants', live)).toHaveLength(1);
    const [stored] = await db.select().from(breakGlassGrants).where(and(eq(breakGlassGrants.id, live)));
    expect(stored!.reviewStatus).toBe('appropriate');
  });

  it('a grant marked reviewed or extended directly shows in the review queue as tampered, first, and takes no verdict', async () => {
    const privacy = await viewer(db, 'privacy@vigil.test');
    const { id: userId } = await createStaff(db, { roles: ['physician'] });
    const subject = { userId, sessionId: (await createSession(db, userId, client)).id };
    const [a, b, c] = (await db.select({ id: patients.id }).from(patients).orderBy(patients.id).limit(3)).map((p) => p.id);
    const marked = await grantFor(subject, a!, new Date(Date.now() + minutes(30)));
    const extended = await grantFor(subject, b!, new Date(Date.now() - 1000));
    const untouched = await grantFor(subject, c!, new Date(Date.now() + minutes(30)));
    const before = await listReviewQueue(privacy);
    expect(before.ok && before.value.find((g) => g.grantId === marked)).toMatchObject({ reviewStatus: 'pending', state: 'active', tampered: false });

    await tamper(sql`UPDATE break_glass_grants SET review_status = 'appropriate', reviewer_id = ${privacy.userId}, reviewed_at = now() WHERE id = ${marked}`);
    await tamper(sql`UPDATE break_glass_grants SET expires_at = now() + interval '1 day' WHERE id = ${extended}`);

    const queue = await listReviewQueue(privacy);
    expect(queue.ok).toBe(true);
    if (!queue.ok) return;
    const shown = queue.value.filter((g) => g.grantId === marked || g.grantId === extended);
    expect(shown).toHaveLength(2);
    for (const g of shown) expect(g).toMatchObject({ tampered: true, reviewStatus: 'tampered', state: 'tampered', reviewedAt: null });
    expect(queue.value.find((g) => g.grantId === untouched)).toMatchObject({ tampered: false, reviewStatus: 'pending', state: 'active' });
    // Tampered grants (these and any an earlier test left) come before every intact one.
    const flags = queue.value.map((g) => g.tampered);
    expect(flags.lastIndexOf(true)).toBeLessThan(flags.indexOf(false));

    const review = await getGrantReview(privacy, marked);
    expect(review).toMatchObject({ ok: true, value: { tampered: true, reviewStatus: 'tampered', reviewer: null, canReview: false } });
    expect(await reviewGrant(privacy, { grantId: extended, verdict: 'appropriate', comment: 'Covering clinician, as stated.' })).toMatchObject({ ok: false, error: 'tampered' });
    const [still] = await db.select().from(breakGlassGrants).where(eq(breakGlassGrants.id, extended));
    expect(still!.reviewStatus).toBe('pending');

    expect(await tamperCases('break_glass_grants', marked)).toHaveLength(1);
    const entries = await db.select().from(auditLog).where(and(eq(auditLog.actionType, 'integrity.tampered'), eq(auditLog.resourceType, 'break_glass_grants')));
    expect(entries.map((e) => e.resourceId)).toEqual(expect.arrayContaining([marked, extended]));
  });
});

describe('administration pages', () => {
  it('a role or care-team row inserted directly is listed apart, holds nothing and counts for no rule', async () => {
    const admin = await viewer(db, 'admin@vigil.test');
    const [patient, other] = (await db.select({ id: patients.id }).from(patients).orderBy(patients.id).limit(2)).map((p) => p.id);
    const staff = await createStaff(db, { roles: ['nurse'], careTeam: [{ patientId: patient!, relationship: 'nursing' }] });
    const forgedTeam = randomUUID();
    await tamper(sql`INSERT INTO user_roles (user_id, role_name) VALUES (${staff.id}, 'physician')`);
    await tamper(sql`INSERT INTO care_team (id, patient_id, user_id, relationship) VALUES (${forgedTeam}, ${other!}, ${staff.id}, 'nursing')`);

    const list = await listUsers(admin);
    expect(list.ok && list.value.find((u) => u.id === staff.id)).toMatchObject({
      roles: ['nurse'],
      tamperedRoles: ['physician'],
      careTeamAssignments: 1,
      tamperedAssignments: 1,
      status: 'active',
    });
    expect(await getUser(admin, staff.id)).toMatchObject({ ok: true, value: { roles: ['nurse'], tamperedRoles: ['physician'] } });
    const assignments = await assignmentsOf(admin, staff.id);
    expect(assignments.ok && assignments.value.map((a) => ({ patientId: a.patientId, tampered: a.tampered, forged: a.assignmentId === forgedTeam }))).toEqual(
      expect.arrayContaining([
        { patientId: other!, tampered: true, forged: true },
        { patientId: patient!, tampered: false, forged: false },
      ]),
    );
    expect(assignments.ok && assignments.value).toHaveLength(2);
    const team = await patientCareTeam(admin, other!);
    expect(team.ok && team.value.members.find((m) => m.assignmentId === forgedTeam)).toMatchObject({ tampered: true });

    // The forged physician row neither offers nor allows an attending assignment; the forged care-team row is no duplicate.
    const offered = await assignableStaff(admin);
    expect(offered.ok && offered.value.find((c) => c.id === staff.id)?.roles).toEqual(['nurse']);
    const attending = await assignToCareTeam(admin, { patientId: other!, userId: staff.id, relationship: 'attending' });
    expect(attending).toMatchObject({ ok: false, error: 'invalid', fieldErrors: { relationship: expect.stringMatching(/needs the physician role/) } });
    expect(await assignToCareTeam(admin, { patientId: other!, userId: staff.id, relationship: 'nursing' })).toMatchObject({ ok: true });

    expect(await tamperCases('care_team', forgedTeam)).toHaveLength(1);
    const entries = await db.select().from(auditLog).where(and(eq(auditLog.actionType, 'integrity.tampered'), eq(auditLog.resourceId, `${staff.id}/physician`)));
    expect(entries).toHaveLength(1);
  });

  it('a forged role or re-enabled account is no administrator to fall back on, and moves no one into another role’s baseline', async () => {
    const counted = async () => db.transaction((tx) => enabledAdministrators(tx));
    const before = await counted();
    const nurse = await createStaff(db, { roles: ['nurse'] });
    await tamper(sql`INSERT INTO user_roles (user_id, role_name) VALUES (${nurse.id}, 'admin')`);
    const formerAdmin = await createStaff(db, { roles: ['admin'] });
    await updateWithMac(db, 'users', eq(users.id, formerAdmin.id), { disabledAt: new Date(), disabledReason: 'left' });
    await tamper(sql`UPDATE users SET disabled_at = NULL, disabled_reason = NULL WHERE id = ${formerAdmin.id}`);
    expect(await counted()).toBe(before);

    const profile = await loadUserProfile(db, nurse.id, new Date(), await getMonitorConfig(db));
    expect(profile.roles).toEqual(['nurse']);
  });

  it('an account re-enabled directly shows as tampered, not active', async () => {
    const admin = await viewer(db, 'admin@vigil.test');
    const staff = await createStaff(db, { roles: ['nurse'] });
    await updateWithMac(db, 'users', eq(users.id, staff.id), { disabledAt: new Date(), disabledReason: 'left' });
    await tamper(sql`UPDATE users SET disabled_at = NULL, disabled_reason = NULL WHERE id = ${staff.id}`);

    const list = await listUsers(admin);
    expect(list.ok && list.value.find((u) => u.id === staff.id)?.status).toBe('tampered');
    expect(await getUser(admin, staff.id)).toMatchObject({ ok: true, value: { status: 'tampered', mfaEnrolled: false } });
    const offered = await assignableStaff(admin);
    expect(offered.ok && offered.value.map((c) => c.id)).not.toContain(staff.id);
    expect(await tamperCases('users', staff.id)).toHaveLength(1);
  });
});
