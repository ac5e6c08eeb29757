/**
 * Shared set-up for the access-control tests (lib/features/records, lib/features/admin): a seeded database with
 * patients nobody treats, signed-in viewers backed by real session rows (so re-authentication
 * checks work), extra staff with chosen roles and care-team rows, and snapshots of every chart
 * table so a test can prove that a refused write changed nothing.
 */
import { randomUUID } from 'node:crypto';
import { and, asc, desc, eq, gt, notExists, sql } from 'drizzle-orm';
import { rowsOf, type Db } from '@/db/client';
import { auditLog, careTeam, chartSectionTables, patients, userRoles, users } from '@/db/schema';
import { DEMO_PASSWORD, demoCaseload, seedDatabase } from '@/db/seed';
import type { Viewer } from '@/lib/domain/access/viewer';
import { resetChainKey } from '@/lib/platform/audit/chain';
import { hashPassword } from '@/lib/features/credentials/passwords';
import { createSession } from '@/lib/features/credentials/sessions';
import { loadRolesAndPermissions } from '@/lib/features/credentials/users';
import { evictDataKey, getPatientCipher, setKeyProvider } from '@/lib/platform/crypto';
import { generateKeyMaterial, StaticKeyProvider } from '@/lib/platform/crypto/key-provider';
import { insertEntry } from '@/lib/features/records/writes';
import { createTestDatabase, type TestDatabase } from './db';

/** Enough patients that the last few are on nobody's care team (billing covers the first 100). */
export const PATIENTS_WITH_STRANGERS = demoCaseload.billing + 4;

export async function accessTestDatabase(patientCount = PATIENTS_WITH_STRANGERS): Promise<TestDatabase> {
  setKeyProvider(new StaticKeyProvider(generateKeyMaterial()));
  resetChainKey();
  evictDataKey();
  const handle = await createTestDatabase();
  await seedDatabase(handle.db, { patients: patientCount });
  return handle;
}

export async function userId(db: Db, email: string): Promise<string> {
  const [user] = await db.select({ id: users.id }).from(users).where(eq(users.email, email)).limit(1);
  if (!user) throw new Error(`No user ${email} in the test database.`);
  return user.id;
}

/** A Viewer as sign-in builds it, with a real session row (fresh re-authentication at `at`). */
export async function signIn(db: Db, email: string, at = new Date()): Promise<Viewer> {
  const id = await userId(db, email);
  const [user] = await db.select().from(users).where(eq(users.id, id)).limit(1);
  const session = await createSession(db, id, { ip: '127.0.0.1', userAgent: 'vitest' }, at);
  const { roles, permissions } = await loadRolesAndPermissions(db, id);
  return {
    userId: id,
    sessionId: session.id,
    email: user!.email,
    displayName: user!.displayName,
    roles,
    permissions,
    ip: '127.0.0.1',
    userAgent: 'vitest',
  };
}

let hashed: Promise<string> | undefined;

/** A staff account with the given roles, optionally on some patients' care teams. */
export async function createStaff(
  db: Db,
  options: { email?: string; roles: string[]; careTeam?: Array<{ patientId: string; relationship: string }> },
): Promise<{ id: string; email: string }> {
  hashed ??= hashPassword(DEMO_PASSWORD);
  const id = randomUUID();
  const email = options.email ?? `staff-${id.slice(0, 8)}@test.vigil`;
  await db.insert(users).values({ id, email, displayName: `Test ${options.roles.join('+') || 'nobody'}`, passwordHash: await hashed });
  if (options.roles.length) await db.insert(userRoles).values(options.roles.map((roleName) => ({ userId: id, roleName })));
  for (const row of options.careTeam ?? []) await db.insert(careTeam).values({ ...row, userId: id });
  return { id, email };
}

/** A patient on the user's care team (the first by id, for determinism). */
export async function patientOnTeamOf(db: Db, uid: string): Promise<string> {
  const [row] = await db
    .select({ patientId: careTeam.patientId })
    .from(careTeam)
    .where(eq(careTeam.userId, uid))
    .orderBy(asc(careTeam.patientId))
    .limit(1);
  if (!row) throw new Error('The user is on no care team.');
  return row.patientId;
}

/** Patients on nobody's care team. */
export async function strangerPatients(db: Db): Promise<string[]> {
  const rows = await db
    .select({ id: patients.id })
    .from(patients)
    .where(notExists(db.select({ one: sql`1` }).from(careTeam).where(eq(careTeam.patientId, patients.id))))
    .orderBy(asc(patients.id));
  if (rows.length === 0) throw new Error('Seed more patients: every patient has a care team.');
  return rows.map((r) => r.id);
}

/** Makes sure a patient has at least one row in a section (the seed may give none), sealed as the app seals. */
export async function ensureEntry(db: Db, section: keyof typeof chartSectionTables, patientId: string, body: unknown): Promise<void> {
  const table = chartSectionTables[section];
  const [row] = await db.select({ id: table.id }).from(table).where(eq(table.patientId, patientId)).limit(1);
  if (row) return;
  const { cipher } = await getPatientCipher(db, patientId);
  await db.transaction((tx) => insertEntry(tx, cipher!, section, null, body as Record<string, unknown>));
}

/** The first row of a chart section for a patient (id and current version). */
export async function firstEntry(db: Db, section: keyof typeof chartSectionTables, patientId: string) {
  const table = chartSectionTables[section];
  const [row] = await db
    .select({ id: table.id, version: table.version })
    .from(table)
    .where(eq(table.patientId, patientId))
    .orderBy(asc(table.id))
    .limit(1);
  if (!row) throw new Error(`Patient has no ${section} rows.`);
  return row;
}

/**
 * A digest of every row of the patient and chart tables, computed in the database: equal
 * snapshots mean nothing changed (not one version, status or sealed byte).
 */
export async function snapshotCharts(db: Db): Promise<string> {
  const digests: string[] = [];
  for (const name of ['patients', 'chart_pages', ...Object.keys(chartSectionTables)]) {
    const result = await db.execute(sql.raw(`SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS d FROM ${name} t`));
    digests.push(`${name}:${rowsOf<{ d: string }>(result)[0]!.d}`);
  }
  return digests.join(' ');
}

export async function auditHead(db: Db): Promise<number> {
  const [row] = await db.select({ seq: sql<number>`coalesce(max(${auditLog.seq}), 0)` }).from(auditLog);
  return Number(row?.seq ?? 0);
}

/** Audit entries written after `since` by one user. */
export async function auditSince(db: Db, since: number, uid: string) {
  return db
    .select()
    .from(auditLog)
    .where(and(gt(auditLog.seq, since), eq(auditLog.userId, uid)))
    .orderBy(asc(auditLog.seq));
}

/** Audit entries of one action type written after `since`, newest first. */
export async function auditOfActionSince(db: Db, since: number, action: string) {
  return db
    .select()
    .from(auditLog)
    .where(and(gt(auditLog.seq, since), eq(auditLog.actionType, action)))
    .orderBy(desc(auditLog.seq));
}
