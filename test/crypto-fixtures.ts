/**
 * Shared set-up for the encryption tests: fresh keys in memory, a seeded test database, and a
 * Viewer for a demo account built the way sign-in builds it (roles and permissions from the db).
 */
import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { rowsOf, type Db } from '@/db/client';
import { chartPages, chartSectionTables, users } from '@/db/schema';
import { seedDatabase } from '@/db/seed';
import type { Viewer } from '@/lib/domain/access/viewer';
import { resetChainKey } from '@/lib/platform/audit/chain';
import { loadRolesAndPermissions } from '@/lib/features/credentials/users';
import { evictDataKey, getPatientCipher, setKeyProvider } from '@/lib/platform/crypto';
import { generateKeyMaterial, StaticKeyProvider } from '@/lib/platform/crypto/key-provider';
import { openPage, type PageEntries } from '@/lib/features/records/pages';
import type { EntrySection } from '@/lib/features/records/tables';
import { createTestDatabase, type TestDatabase } from './db';

export function installTestKeys(): StaticKeyProvider {
  const provider = new StaticKeyProvider(generateKeyMaterial());
  setKeyProvider(provider);
  resetChainKey();
  evictDataKey();
  return provider;
}

export async function seededTestDatabase(patients: number, seed = 42): Promise<TestDatabase> {
  installTestKeys();
  const handle = await createTestDatabase();
  await seedDatabase(handle.db, { patients, seed });
  return handle;
}

export async function viewerFor(db: Db, email: string): Promise<Viewer> {
  const [user] = await db.select().from(users).where(eq(users.email, email)).limit(1);
  if (!user) throw new Error(`No user ${email} in the test database.`);
  const { roles, permissions } = await loadRolesAndPermissions(db, user.id);
  return {
    userId: user.id,
    sessionId: randomUUID(),
    email: user.email,
    displayName: user.displayName,
    roles,
    permissions,
    ip: '127.0.0.1',
    userAgent: 'vitest',
  };
}

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
    .select({ sealedEntries: chartPages.sealedEntries })
    .from(chartPages)
    .where(and(eq(chartPages.patientId, row.patientId), eq(chartPages.section, section), eq(chartPages.pageNo, row.pageNo)));
  return page ? openPage(cipher!, section, row.pageNo, page.sealedEntries)[entryId] : undefined;
}

/** Every stored page, opened with its patient's key: section, page number and entries. */
export async function openEveryPage(db: Db): Promise<Array<{ patientId: string; section: EntrySection; pageNo: number; entries: PageEntries }>> {
  const pages = await db.select().from(chartPages);
  const out = [];
  for (const page of pages) {
    const { cipher } = await getPatientCipher(db, page.patientId);
    const section = page.section as EntrySection;
    out.push({ patientId: page.patientId, section, pageNo: page.pageNo, entries: openPage(cipher!, section, page.pageNo, page.sealedEntries) });
  }
  return out;
}
