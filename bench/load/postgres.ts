/**
 * Real PostgreSQL for the load benchmark and the crash tests: a fresh database on the server
 * scripts/test-all.sh started (PG_TEST_ADMIN_URL), or a throwaway server of our own from
 * scripts/ensure-postgres.sh. The portal connects as the least-privileged application role
 * (vigil_app: no UPDATE or DELETE on audit_log), as in production; migrations and the fixture
 * run as the owner.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { REPO_ROOT } from './portal';

export interface PortalDatabase {
  /** Owner (superuser) URL of the new database: migrations, fixture, checks. */
  ownerUrl: string;
  /** The application role's URL of the new database: what the portal uses. */
  appUrl: string;
  drop(): Promise<void>;
}

interface Server {
  adminUrl: string;
  appUrlTemplate: string;
  /** The server's postmaster process (for CPU accounting), when known. */
  postmasterPid: number | null;
  stop(): void;
}

function postmasterPid(clusterDir: string | undefined): number | null {
  try {
    return clusterDir ? Number(readFileSync(path.join(clusterDir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]) || null : null;
  } catch {
    return null;
  }
}

const ENSURE = path.join(REPO_ROOT, 'scripts', 'ensure-postgres.sh');

/** The server test-all started, or a new throwaway one (stopped by `stop()`). */
export type { Server as PostgresServer };

/** What a benchmark asks of the server: durability on, and pg_stat_statements to count queries. */
export interface ServerKnobs {
  durable?: boolean;
  statements?: boolean;
}

/** The one test-all started cannot be reconfigured, so asking for a knob starts a throwaway of our own. */
export function postgresServer(log: (line: string) => void = () => {}, knobs: ServerKnobs = {}): Server {
  const asked = Boolean(knobs.durable || knobs.statements);
  if (!asked && process.env.PG_TEST_ADMIN_URL && process.env.PG_TEST_APP_URL) {
    return { adminUrl: process.env.PG_TEST_ADMIN_URL, appUrlTemplate: process.env.PG_TEST_APP_URL, postmasterPid: postmasterPid(process.env.PG_TEST_DIR), stop: () => {} };
  }
  const started = spawnSync('bash', [ENSURE], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, PG_TEST_DURABLE: knobs.durable ? '1' : '0', PG_TEST_STATEMENTS: knobs.statements ? '1' : '0' },
  });
  if (started.status !== 0) throw new Error('Could not start PostgreSQL (scripts/ensure-postgres.sh).');
  const vars = new Map([...started.stdout.matchAll(/([A-Z_]+)='([^']*)'/g)].map((m) => [m[1]!, m[2]!]));
  const adminUrl = vars.get('PG_TEST_ADMIN_URL');
  const appUrlTemplate = vars.get('PG_TEST_APP_URL');
  const dir = vars.get('PG_TEST_DIR');
  if (!adminUrl || !appUrlTemplate || !dir) throw new Error('scripts/ensure-postgres.sh did not print its URLs.');
  log(`Started a throwaway PostgreSQL (${dir}).`);
  return {
    adminUrl,
    appUrlTemplate,
    postmasterPid: postmasterPid(dir),
    stop: () => {
      spawnSync('bash', [ENSURE, 'stop', dir], { cwd: REPO_ROOT, stdio: 'ignore' });
    },
  };
}

const withDatabase = (url: string, database: string) => {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
};

/** A new empty database on `server`, with the application role's rights granted once migrated (see `grantAppRole`). */
export async function createPortalDatabase(server: Server, prefix = 'vigil_load'): Promise<PortalDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  return {
    ownerUrl: withDatabase(server.adminUrl, name),
    appUrl: withDatabase(server.appUrlTemplate, name),
    drop: async () => {
      const sql = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  };
}

/** After migration: the application role may read and write data, and only append to audit_log. */
export async function grantAppRole(database: PortalDatabase): Promise<void> {
  const role = new URL(database.appUrl).username;
  const sql = postgres(database.ownerUrl, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`GRANT USAGE ON SCHEMA public TO ${role}`);
    await sql.unsafe(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
    await sql.unsafe(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
    await sql.unsafe(`REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM ${role}`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** The server's durability settings as it runs them, for the report (never assumed). */
export async function durabilitySettings(ownerUrl: string): Promise<{ fsync: string; synchronousCommit: string }> {
  const sql = postgres(ownerUrl, { max: 1, onnotice: () => {} });
  try {
    const [fsync] = await sql<Array<{ fsync: string }>>`SHOW fsync`;
    const [commit] = await sql<Array<{ synchronous_commit: string }>>`SHOW synchronous_commit`;
    return { fsync: fsync!.fsync, synchronousCommit: commit!.synchronous_commit };
  } finally {
    await sql.end({ timeout: 5 });
  }
}
