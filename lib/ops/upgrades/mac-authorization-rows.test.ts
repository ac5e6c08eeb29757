/**
 * The upgrade step after migration 0012: rows stored before it (no MAC) get a valid one, rows that
 * already carry one keep it untouched (a bad one stays bad), more rows than one batch all get
 * theirs, every row then reads as intact, and a second run changes nothing — a bare row written
 * after the back-fill stays untrusted.
 */
import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '@/db/client';
import { auditLog, breakGlassGrants, careTeam, patients, sessions, userRoles, users } from '@/db/schema';
import { resolveViewerState } from '@/lib/features/auth/viewer-state';
import { createSession } from '@/lib/features/credentials/sessions';
import { getPatientCipher } from '@/lib/platform/crypto';
import { authorizationMac, withMac, type AuthorizationTable } from '@/lib/platform/integrity';
import { countRowsWithoutMac, macAuthorizationRows } from '@/lib/ops/upgrades/mac-authorization-rows';
import type { TestDatabase } from '@/test/db';
import { createStaff, minutes, testDatabase } from '@/test/fixtures';

let handle: TestDatabase;
let db: Db;
const client = { ip: '198.51.100.9', userAgent: 'vitest' };

beforeAll(async () => {
  handle = await testDatabase({ patients: 3 });
  db = handle.db;
});
afterAll(async () => handle?.close());

/** Every row of every authorization table, keyed `table/row`, with its stored MAC and whether that MAC is the one Vigil would write now. */
async function macState(): Promise<Map<string, { mac: string | null; valid: boolean }>> {
  const state = new Map<string, { mac: string | null; valid: boolean }>();
  const add = <T extends AuthorizationTable>(table: T, key: string, row: Parameters<typeof authorizationMac<T>>[1] & { authMac: string | null }) =>
    state.set(`${table}/${key}`, { mac: row.authMac, valid: row.authMac === authorizationMac(table, row) });
  for (const row of await db.select().from(users)) add('users', row.id, row);
  for (const row of await db.select().from(sessions)) add('sessions', row.id, row);
  for (const row of await db.select().from(userRoles)) add('user_roles', `${row.userId}/${row.roleName}`, row);
  for (const row of await db.select().from(careTeam)) add('care_team', row.id, row);
  for (const row of await db.select().from(breakGlassGrants)) add('break_glass_grants', row.id, row);
  return state;
}

describe('mac-authorization-rows', () => {
  it('gives rows stored before 0012 their MACs once, leaves MAC’d rows as they were, and is idempotent', async () => {
    const staff = await createStaff(db, { roles: ['physician'] });
    const [patient] = await db.select({ id: patients.id }).from(patients).limit(1);
    await db.insert(careTeam).values(withMac('care_team', { id: randomUUID(), patientId: patient!.id, userId: staff.id, relationship: 'attending', untilAt: null }));
    const session = await createSession(db, staff.id, client);
    const grantId = randomUUID();
    const { cipher } = await getPatientCipher(db, patient!.id);
    await db.insert(breakGlassGrants).values(
      withMac('break_glass_grants', {
        id: grantId,
        userId: staff.id,
        patientId: patient!.id,
        sessionId: session.id,
        reasonCode: 'other',
        sealedJustification: cipher!.seal('break_glass_grants', 'sealed_justification', grantId, 'Covering the ward overnight for the treating team.'),
        expiresAt: new Date(Date.now() + minutes(30)),
        endedAt: null,
        reviewStatus: 'pending',
        reviewerId: null,
        reviewedAt: null,
      }),
    );
    // More sessions than one batch, as a busy portal had before the upgrade.
    await db.execute(
      sql`INSERT INTO sessions (id, user_id, expires_at) SELECT gen_random_uuid(), ${staff.id}, now() + interval '1 hour' FROM generate_series(1, 520)`,
    );

    // As written before 0012: this person's rows, and about half of everyone else's, without a MAC.
    await db.execute(sql`UPDATE users SET auth_mac = NULL WHERE id = ${staff.id} OR md5(id::text) < '8'`);
    await db.execute(sql`UPDATE sessions SET auth_mac = NULL WHERE user_id = ${staff.id} OR md5(id::text) < '8'`);
    await db.execute(sql`UPDATE user_roles SET auth_mac = NULL WHERE user_id = ${staff.id} OR md5(user_id::text || role_name) < '8'`);
    await db.execute(sql`UPDATE care_team SET auth_mac = NULL WHERE user_id = ${staff.id} OR md5(id::text) < '8'`);
    await db.execute(sql`UPDATE break_glass_grants SET auth_mac = NULL WHERE id = ${grantId}`);
    // A row that already has a MAC, but a wrong one: the back-fill must not launder it.
    const [forged] = await db.select().from(userRoles).where(sql`${userRoles.userId} <> ${staff.id} AND ${userRoles.authMac} IS NOT NULL`).limit(1);
    await db.execute(sql`UPDATE user_roles SET auth_mac = 'forged' WHERE user_id = ${forged!.userId} AND role_name = ${forged!.roleName}`);
    const forgedKey = `user_roles/${forged!.userId}/${forged!.roleName}`;

    const before = await macState();
    const bare = [...before.entries()].filter(([, s]) => s.mac === null).map(([key]) => key);
    const macked = [...before.entries()].filter(([, s]) => s.mac !== null);
    expect(await countRowsWithoutMac(db)).toBe(bare.length);
    for (const table of ['users', 'sessions', 'user_roles', 'care_team', 'break_glass_grants']) expect(bare.some((key) => key.startsWith(`${table}/`))).toBe(true);
    expect(macked.length).toBeGreaterThan(0);
    // Until the step runs, a row without a MAC counts for nothing.
    expect((await resolveViewerState(db, session.id, client, { touch: 'never' })).viewer).toBeNull();

    const first = await macAuthorizationRows(db);
    expect(first.alreadyDone).toBe(false);
    expect(first.untrusted).toBe(0);
    expect(Object.values(first.macked).reduce((sum, n) => sum + n, 0)).toBe(bare.length);
    expect(first.macked.sessions).toBeGreaterThan(500);

    const after = await macState();
    expect(await countRowsWithoutMac(db)).toBe(0);
    for (const key of bare) expect(after.get(key), key).toMatchObject({ valid: true });
    for (const [key, state] of macked) expect(after.get(key), key).toEqual(state);
    expect(after.get(forgedKey)).toEqual({ mac: 'forged', valid: false });
    expect([...after.entries()].filter(([, s]) => !s.valid).map(([key]) => key)).toEqual([forgedKey]);
    const viewer = (await resolveViewerState(db, session.id, client, { touch: 'never' })).viewer;
    expect(viewer?.userId).toBe(staff.id);
    expect(viewer?.roles).toEqual(['physician']);

    // A second run does nothing, and a bare row written since is not given a MAC.
    const bareSince = randomUUID();
    await db.execute(sql`INSERT INTO sessions (id, user_id, expires_at) VALUES (${bareSince}, ${staff.id}, now() + interval '1 day')`);
    const second = await macAuthorizationRows(db);
    expect(second).toEqual({ macked: {}, alreadyDone: true, untrusted: 1 });
    const again = await macState();
    expect(again.get(`sessions/${bareSince}`)).toMatchObject({ mac: null, valid: false });
    again.delete(`sessions/${bareSince}`);
    expect(again).toEqual(after);
    expect(await db.select().from(auditLog).where(eq(auditLog.actionType, 'integrity.backfilled'))).toHaveLength(1);
  });
});
