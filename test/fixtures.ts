/**
 * The one set-up for tests that need a database: `testDatabase()` gives a test file fresh keys
 * and a migrated database seeded as it asks, and `viewer()` the signed-in person a request would
 * carry. Beside them, the helpers tests share to seed extra staff, find patients, read the chart
 * and audit tables back, and look at what is stored (a dump, an opened page).
 */
import { randomUUID } from 'node:crypto';
import { and, asc, desc, eq, gt, notExists, sql } from 'drizzle-orm';
import { rowsOf, type Db } from '@/db/client';
import { auditLog, careTeam, chartPages, chartSectionTables, patients, sessions, users } from '@/db/schema';
import { DEMO_PASSWORD, demoCaseload, seedDatabase } from '@/db/seed';
import type { Viewer } from '@/lib/domain/access/viewer';
import { resetChainKey } from '@/lib/platform/audit/chain';
import { now } from '@/lib/platform/clock';
import { evictDataKey, getPatientCipher, setKeyProvider } from '@/lib/platform/crypto';
import { generateKeyMaterial, StaticKeyProvider, type KeyProvider } from '@/lib/platform/crypto/key-provider';
import { insertRoleRows, unsetUserMacFields, withMac } from '@/lib/platform/integrity';
import { hashPassword } from '@/lib/features/credentials/passwords';
import { createSession } from '@/lib/features/credentials/sessions';
import { openPage, type PageEntries } from '@/lib/features/records/pages';
import type { EntrySection } from '@/lib/features/records/tables';
import { insertEntry } from '@/lib/features/records/writes';
import { loadRolesAndPermissions } from '@/lib/pipeline/actor';
import { createTestDatabase, type TestDatabase } from './db';
import { freshTokenProvider, testsRunOnToken } from './softhsm';

// ------------------------------------------------------------------ database

/** Enough patients that the last few are on nobody's care team (billing covers the first 100). */
export const PATIENTS_WITH_STRANGERS = demoCaseload.billing + 4;

export interface TestDatabaseOptions {
  /** Synthetic patients to seed after the roles and demo/staff accounts (none by default). */
  patients?: number;
  /** The synthetic data's seed, so a file can rebuild a patient's demographics (db/seed's default otherwise). */
  seed?: number;
  /** Patients per insert when seeding many. */
  batchSize?: number;
  /** Only the migrated schema: no roles, accounts or patients (the audit-chain tests append their own rows). */
  empty?: boolean;
}

/**
 * Fresh keys in memory (nothing sealed by an earlier file opens), then a fresh migrated database
 * installed as the process-wide one, seeded with the roles and accounts and `patients` patients.
 */
export async function testDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  installTestKeys();
  const handle = await createTestDatabase();
  if (!options.empty) await seedDatabase(handle.db, { patients: options.patients ?? 0, seed: options.seed, batchSize: options.batchSize });
  return handle;
}

/** A new key provider, audit chain key and data-key cache; returned for tests that swap keys. */
export function installTestKeys(): KeyProvider {
  const provider = testsRunOnToken() ? freshTokenProvider() : new StaticKeyProvider(generateKeyMaterial());
  setKeyProvider(provider);
  resetChainKey();
  evictDataKey();
  return provider;
}

// ------------------------------------------------------------------ viewers

export interface Client {
  ip: string | null;
  userAgent: string | null;
}

/** Where viewers sign in from unless a test says otherwise. */
export const TEST_CLIENT: Client = { ip: '127.0.0.1', userAgent: 'vitest' };
/** A real browser, for the session tests that check a session is used from where it began. */
export const BROWSER: Client = { ip: '192.0.2.10', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36' };

/**
 * The Viewer a request on a fresh sign-in carries: a real session row opened at `at` (so the
 * re-authentication and "still signed in" checks see it), and the user's roles and permissions
 * loaded as the app loads them.
 */
export async function viewer(db: Db, email: string, { at = now(), client = TEST_CLIENT }: { at?: Date; client?: Client } = {}): Promise<Viewer> {
  const user = await userRow(db, email);
  const session = await createSession(db, user.id, client, at);
  const { roles, permissions } = await loadRolesAndPermissions(db, user.id);
  return { userId: user.id, sessionId: session.id, email: user.email, displayName: user.displayName, roles, permissions, ...client };
}

export async function userRow(db: Db, email: string) {
  const [row] = await db.select().from(users).where(eq(users.email, email)).limit(1);
  if (!row) throw new Error(`No user ${email} in the test database.`);
  return row;
}

export async function userId(db: Db, email: string): Promise<string> {
  return (await userRow(db, email)).id;
}

export async function sessionRow(db: Db, id: string) {
  const [row] = await db.select().from(sessions).where(eq(sessions.id, id)).limit(1);
  if (!row) throw new Error(`No session ${id} in the test database.`);
  return row;
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
  await db.insert(users).values(withMac('users', { ...unsetUserMacFields, id, email, displayName: `Test ${options.roles.join('+') || 'nobody'}`, passwordHash: await hashed }));
  await insertRoleRows(db, options.roles.map((roleName) => ({ userId: id, roleName })));
  for (const row of options.careTeam ?? []) await db.insert(careTeam).values(withMac('care_team', { ...row, id: randomUUID(), userId: id, untilAt: null }));
  return { id, email };
}

export const minutes = (n: number) => n * 60_000;
export const later = (at: Date, ms: number) => new Date(at.getTime() + ms);

// ------------------------------------------------------------------ patients and charts

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

// ------------------------------------------------------------------ what is stored

/** Rows of every table in every non-system schema, one JSON text per row: what a dump shows. */
export async function dumpEverything(db: Db): Promise<{ text: string; tables: string[] }> {
  const tables = rowsOf<{ table_schema: string; table_name: string }>(
    await db.execute(sql`
      SELECT table_schema, table_name FROM information_schema.tables
      WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
      ORDER BY table_schema, table_name`),
  );
  const lines: string[] = [];
  for (const { table_schema, table_name } of tables) {
    const rows = rowsOf<{ row: string }>(
      await db.execute(sql.raw(`SELECT row_to_json(t)::text AS row FROM "${table_schema}"."${table_name}" t`)),
    );
    for (const { row } of rows) lines.push(`${table_schema}.${table_name} ${row}`);
  }
  return { text: lines.join('\n'), tables: tables.map((t) => `${t.table_schema}.${t.table_name}`) };
}

/** One entry's body as stored: its row names the page, the patient's key opens the page. */
export async function storedEntryBody(db: Db, section: EntrySection, entryId: string): Promise<Record<string, unknown> | undefined> {
  const table = chartSectionTables[section];
  const [row] = await db.select({ patientId: table.patientId, pageNo: table.pageNo }).from(table).where(eq(table.id, entryId));
  if (!row || row.pageNo === null) return undefined;
  const { cipher } = await getPatientCipher(db, row.patientId);
  const [page] = await db
    .select({ version: chartPages.version, sealedEntries: chartPages.sealedEntries })
    .from(chartPages)
    .where(and(eq(chartPages.patientId, row.patientId), eq(chartPages.section, section), eq(chartPages.pageNo, row.pageNo)));
  return page ? openPage(cipher!, section, row.pageNo, page.version, page.sealedEntries)[entryId] : undefined;
}

/** Every stored page, opened with its patient's key: section, page number and entries. */
export async function openEveryPage(db: Db): Promise<Array<{ patientId: string; section: EntrySection; pageNo: number; entries: PageEntries }>> {
  const pages = await db.select().from(chartPages);
  const out = [];
  for (const page of pages) {
    const { cipher } = await getPatientCipher(db, page.patientId);
    const section = page.section as EntrySection;
    out.push({ patientId: page.patientId, section, pageNo: page.pageNo, entries: openPage(cipher!, section, page.pageNo, page.version, page.sealedEntries) });
  }
  return out;
}

// ------------------------------------------------------------------ audit trail

export async function auditHead(db: Db): Promise<number> {
  const [row] = await db.select({ seq: sql<number>`coalesce(max(${auditLog.seq}), 0)` }).from(auditLog);
  return Number(row?.seq ?? 0);
}

/** Audit entries of one action type written after `since`, newest first. */
export async function auditOfActionSince(db: Db, since: number, action: string) {
  return db
    .select()
    .from(auditLog)
    .where(and(gt(auditLog.seq, since), eq(auditLog.actionType, action)))
    .orderBy(desc(auditLog.seq));
}
