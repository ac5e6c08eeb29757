import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asc, eq, sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '@/test/db';
import { roles, userRoles, users } from './schema';
import { builtOnce } from './statements';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.close());

/** A user and the roles they hold, as the session check reads them: left joins, so no role is a null role. */
const heldRoles = builtOnce('test_held_roles', (q) =>
  q
    .select({ email: users.email, role: { name: userRoles.roleName, grantedBy: userRoles.grantedBy }, permissions: roles.permissions })
    .from(users)
    .leftJoin(userRoles, eq(userRoles.userId, users.id))
    .leftJoin(roles, eq(roles.name, userRoles.roleName))
    .where(eq(users.email, sql.placeholder('email')))
    .orderBy(asc(userRoles.roleName)),
);

async function addUser(email: string, roleNames: string[]) {
  const [user] = await database.db.insert(users).values({ email, displayName: email, passwordHash: 'x' }).returning();
  for (const name of roleNames) {
    await database.db.insert(roles).values({ name, permissions: { ehr_read: [name] } }).onConflictDoNothing();
    await database.db.insert(userRoles).values({ userId: user!.id, roleName: name });
  }
}

describe('a statement built once', () => {
  it('gives, for each value, the rows the query built anew gives, shaped alike', async () => {
    await addUser('two-roles@vigil.test', ['stmt_a', 'stmt_b']);
    await addUser('no-role@vigil.test', []);
    for (const email of ['two-roles@vigil.test', 'no-role@vigil.test', 'nobody@vigil.test', 'two-roles@vigil.test']) {
      const fresh = await database.db
        .select({ email: users.email, role: { name: userRoles.roleName, grantedBy: userRoles.grantedBy }, permissions: roles.permissions })
        .from(users)
        .leftJoin(userRoles, eq(userRoles.userId, users.id))
        .leftJoin(roles, eq(roles.name, userRoles.roleName))
        .where(eq(users.email, email))
        .orderBy(asc(userRoles.roleName));
      expect(await heldRoles(database.db, { email })).toEqual(fresh);
    }
    expect(await heldRoles(database.db, { email: 'no-role@vigil.test' })).toEqual([{ email: 'no-role@vigil.test', role: null, permissions: null }]);
    expect((await heldRoles(database.db, { email: 'two-roles@vigil.test' })).map((r) => r.role?.name)).toEqual(['stmt_a', 'stmt_b']);
  });

  it('runs inside the transaction it is given: it sees that transaction’s own uncommitted rows', async () => {
    const seen = await database.db
      .transaction(async (tx) => {
        await tx.insert(users).values({ email: 'in-tx@vigil.test', displayName: 'x', passwordHash: 'x' });
        const inside = await heldRoles(tx, { email: 'in-tx@vigil.test' });
        tx.rollback();
        return inside;
      })
      .catch((error: unknown) => (error instanceof Error && error.message === 'Rollback' ? 'rolled back' : Promise.reject(error)));
    expect(seen).toBe('rolled back');
    const inside: unknown[] = [];
    await database.db.transaction(async (tx) => {
      await tx.insert(users).values({ email: 'in-tx2@vigil.test', displayName: 'x', passwordHash: 'x' });
      inside.push(...(await heldRoles(tx, { email: 'in-tx2@vigil.test' })));
    });
    expect(inside).toEqual([{ email: 'in-tx2@vigil.test', role: null, permissions: null }]);
    expect(await heldRoles(database.db, { email: 'in-tx@vigil.test' })).toEqual([]);
  });
});
