/**
 * A fresh, migrated database for one test file: in-memory PGlite by default, or a new database
 * on the PostgreSQL server named by VIGIL_TEST_DATABASE_URL (scripts/test-all.sh runs the suite
 * both ways). The handle is installed as the process-wide one so lib/ code uses it.
 *
 * Under vitest, test/global-setup.ts migrates one PGlite database per run and each file starts
 * from its data directory (PGLITE_TEMPLATE_ENV) instead of paying for initdb again.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import postgres from 'postgres';
import {
  migrateDatabase,
  migrateHandle,
  openDatabase,
  setDatabase,
  type DatabaseHandle,
} from '@/db/client';

export const testDatabaseKind = process.env.VIGIL_TEST_DATABASE_URL ? 'postgres' : 'pglite';

/** Path of the migrated PGlite data-directory tarball test/global-setup.ts made for this run. */
export const PGLITE_TEMPLATE_ENV = 'VIGIL_TEST_PGLITE_TEMPLATE';

export interface TestDatabase extends DatabaseHandle {
  /** URL of the fresh database on PostgreSQL (undefined on PGlite). */
  url?: string;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = process.env.VIGIL_TEST_DATABASE_URL;
  if (!adminUrl) {
    const handle = await openDatabase({ dataDir: 'memory://', loadDataDir: await pgliteTemplate() });
    // Everything when there is no template (bench/, a single file run without the setup); else
    // nothing, or only migrations added since the template was built (vitest watch mode).
    await migrateHandle(handle);
    setDatabase(handle);
    return handle;
  }
  const name = `vigil_t_${randomBytes(6).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = withDatabase(adminUrl, name);
  await migrateDatabase({ url });
  const appRole = process.env.VIGIL_TEST_APP_ROLE ?? 'vigil_app';
  await grantAppRole(url, appRole);
  const handle = await openDatabase({ url, max: 10 });
  setDatabase(handle);
  return {
    ...handle,
    url,
    close: async () => {
      setDatabase(undefined);
      await handle.close();
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end({ timeout: 5 });
    },
  };
}

/** The run's template as a Blob (read once per test file); undefined outside vitest. */
let templateBlob: Promise<Blob | undefined> | undefined;
function pgliteTemplate(): Promise<Blob | undefined> {
  const file = process.env[PGLITE_TEMPLATE_ENV];
  if (!file) return Promise.resolve(undefined);
  templateBlob ??= readFile(file).then((bytes) => new Blob([bytes]));
  return templateBlob;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** The app's runtime role: full rights on data tables, INSERT + SELECT only on audit_log. */
async function grantAppRole(url: string, role: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [exists] = await sql`SELECT 1 FROM pg_roles WHERE rolname = ${role}`;
    if (!exists) return;
    await sql.unsafe(`GRANT USAGE ON SCHEMA public TO ${role}`);
    await sql.unsafe(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
    await sql.unsafe(`REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM ${role}`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** URL for the app role on a test database (PostgreSQL only). */
export function appRoleUrl(databaseUrl: string): string | undefined {
  const template = process.env.VIGIL_TEST_APP_DATABASE_URL;
  if (!template) return undefined;
  const parsed = new URL(template);
  parsed.pathname = new URL(databaseUrl).pathname;
  return parsed.toString();
}
