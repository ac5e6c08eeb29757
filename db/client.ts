/**
 * One database handle per process: PGlite (embedded, a data directory) when DATABASE_URL is
 * unset, postgres.js against a PostgreSQL server when it is set. Both speak the same drizzle
 * schema and migrations.
 */
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import type { ExtractTablesWithRelations } from 'drizzle-orm';
import type { Sql } from 'postgres';
import { env } from '@/lib/platform/env';
import * as schema from './schema';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
/** Anything that can run a query: the database or an open transaction. */
export type Queryable = Db | Tx;

export interface DatabaseHandle {
  db: Db;
  kind: 'pglite' | 'postgres';
  close(): Promise<void>;
}

export interface OpenOptions {
  /** A postgres:// URL; when absent, PGlite is used. */
  url?: string;
  /** PGlite data directory; `memory://` for a throwaway in-memory database. */
  dataDir?: string;
  /** Connection pool size for PostgreSQL. */
  max?: number;
  /** For `memory://` PGlite only: start from this data-directory tarball (PGlite `dumpDataDir`). */
  loadDataDir?: Blob;
  /**
   * PostgreSQL over TCP only: send each write at once (TCP_NODELAY), as libpq does; postgres.js
   * leaves Nagle's algorithm on. For bulk writers (the seed): a COPY's closing message is a few
   * bytes behind the data, and Nagle holds it until the server acknowledges that data, which it
   * delays by up to 40 ms, so each COPY waited out the delay (a third of the seed's time).
   */
  noDelay?: boolean;
  /**
   * PGlite on a data directory only: run with wal_level=minimal for this process, for a bulk
   * load into tables it empties in the same transaction (the seed, db/bulk-load.ts). Those
   * tables' rows and index builds are then not written to the WAL at all (a fresh 100k seed
   * wrote 1.1 GB of it) but written to their own files before the commit is, as PostgreSQL does
   * for such tables, so a crash loses nothing committed. Every other write is logged as before;
   * the next process opens the directory with the default level again.
   */
  minimalWal?: boolean;
}

const migrationsFolder = path.join(process.cwd(), 'db', 'migrations');

/**
 * A connected socket to the server postgres.js parsed from the URL, with Nagle's algorithm off
 * (OpenOptions.noDelay). postgres.js then speaks the protocol on it as on its own, TLS included
 * (it upgrades the socket, naming `host` to the server); a Unix socket has no Nagle to turn off.
 */
function noDelaySocket(options: { host: string[]; port: number[]; path?: string | false; connect_timeout?: number }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = options.path ? connect(options.path) : connect({ host: options.host[0], port: options.port[0] ?? 5432, noDelay: true });
    const seconds = options.connect_timeout ?? 30;
    const timer = setTimeout(() => socket.destroy(new Error(`Could not connect to PostgreSQL within ${seconds} s.`)), seconds * 1000);
    const failed = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    socket.once('error', failed);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', failed);
      // postgres.js names this host to the server when it upgrades the socket to TLS.
      Object.assign(socket, { host: options.host[0] });
      resolve(socket);
    });
  });
}

/**
 * Statements with more parameters than this stay unnamed: their text varies with a list's length
 * (`in ($1, …, $n)` over a caseload), and naming every length would keep a statement per length
 * on each connection until it closes.
 */
const NAMED_PARAMS_MAX = 32;

/**
 * postgres.js with every statement that has parameters (up to NAMED_PARAMS_MAX) named and kept on
 * its connection, the ones drizzle sends as unnamed included. drizzle names a statement only when a query is
 * `.prepare()`d (so that it also works behind PgBouncer in transaction mode; Vigil connects to
 * PostgreSQL itself). For an unnamed statement with parameters postgres.js first asks the server
 * to describe it, one more round trip, and the server parses and plans it again on every run;
 * a named one is parsed, described and planned once per connection. Measured here, sequentially:
 * 65 against 33 µs per statement, 45 against 22 µs of this process's CPU. postgres.js forgets its
 * statements when it reconnects (after a failover, or at its connection's maximum lifetime) and
 * prepares again one the server has lost. `?prepare=false` on the URL (a pooler that cannot carry
 * prepared statements) still turns all of it off.
 */
function namedStatements(client: Sql): Sql {
  return new Proxy(client, {
    get(target, key, receiver) {
      if (key === 'unsafe') {
        return (query: string, params?: unknown[], options?: Record<string, unknown>) =>
          target.unsafe(query, params as never, params?.length && params.length <= NAMED_PARAMS_MAX ? { ...options, prepare: true } : options);
      }
      // A transaction (or savepoint) hands its callback a connection of its own: wrapped the same way.
      if (key === 'begin' || key === 'savepoint') {
        return (...args: unknown[]) => {
          const work = args.pop() as (sql: Sql) => unknown;
          return (Reflect.get(target, key, target) as (...a: unknown[]) => unknown)(...args, (sql: Sql) => work(namedStatements(sql)));
        };
      }
      return Reflect.get(target, key, receiver);
    },
  });
}

export async function openDatabase(options: OpenOptions = {}): Promise<DatabaseHandle> {
  if (options.url) {
    const { default: postgres } = await import('postgres');
    const { drizzle } = await import('drizzle-orm/postgres-js');
    // Several hosts (failover) are left to postgres.js, which tries each in turn itself.
    const socket = options.noDelay && !options.url.includes(',') ? noDelaySocket : undefined;
    const client = postgres(options.url, { max: options.max ?? 10, onnotice: () => {}, ...(socket ? { socket } : {}) });
    const db = drizzle(namedStatements(client), { schema }) as unknown as Db;
    return { db, kind: 'postgres', close: () => client.end({ timeout: 5 }) };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const dataDir = options.dataDir ?? defaultDataDir();
  if (dataDir.startsWith('memory://')) {
    const client = await PGlite.create(dataDir, { loadDataDir: options.loadDataDir });
    return { db: drizzle(client, { schema }) as unknown as Db, kind: 'pglite', close: () => client.close() };
  }
  mkdirSync(dataDir, { recursive: true });
  const releaseLock = lockDataDir(dataDir);
  try {
    // wal_level=minimal needs max_wal_senders=0 (no replication from a minimal WAL).
    const startParams = options.minimalWal ? [...PGlite.defaultStartParams, '-c', 'wal_level=minimal', '-c', 'max_wal_senders=0'] : undefined;
    const client = await PGlite.create(dataDir, startParams ? { startParams } : undefined);
    const db = drizzle(client, { schema }) as unknown as Db;
    return {
      db,
      kind: 'pglite',
      close: async () => {
        await client.close();
        releaseLock();
      },
    };
  } catch (error) {
    releaseLock();
    throw error;
  }
}

/**
 * PGlite has no lock of its own, and two processes on one data directory corrupt it (say, the
 * keys:rotate CLI while the demo runs). A pid file next to the directory refuses the second
 * opener; a lock left by a process that died (kill -9) is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const lockFile = `${dataDir}.lock`;
  try {
    writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
  } catch {
    const holder = Number(readFileSync(lockFile, 'utf8'));
    if (holder !== process.pid && isAlive(holder)) {
      throw new Error(
        `The embedded database at ${dataDir} is in use by process ${holder}. Stop that process first, or use a PostgreSQL server (DATABASE_URL) for work alongside the running portal.`,
      );
    }
    writeFileSync(lockFile, String(process.pid));
  }
  return () => {
    try {
      if (Number(readFileSync(lockFile, 'utf8')) === process.pid) unlinkSync(lockFile);
    } catch {
      // already gone
    }
  };
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function defaultDataDir(): string {
  return path.resolve(env().VIGIL_DATA_DIR, 'pglite');
}

/** Applies every pending migration; on PostgreSQL through its own single connection. */
export async function migrateDatabase(options: OpenOptions = {}): Promise<void> {
  if (options.url) {
    const { default: postgres } = await import('postgres');
    const { drizzle } = await import('drizzle-orm/postgres-js');
    const { migrate } = await import('drizzle-orm/postgres-js/migrator');
    const client = postgres(options.url, { max: 1, onnotice: () => {} });
    try {
      await migrate(drizzle(client), { migrationsFolder });
    } finally {
      await client.end({ timeout: 5 });
    }
    return;
  }
  const handle = await openDatabase(options);
  try {
    await migrateHandle(handle);
  } finally {
    await handle.close();
  }
}

/** Migrates an already-open handle (PGlite must not be opened twice in one process). */
export async function migrateHandle(handle: DatabaseHandle): Promise<void> {
  if (handle.kind === 'pglite') {
    const { migrate } = await import('drizzle-orm/pglite/migrator');
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    await migrate(handle.db as any, { migrationsFolder });
  } else {
    const { migrate } = await import('drizzle-orm/postgres-js/migrator');
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    await migrate(handle.db as any, { migrationsFolder });
  }
}

export function optionsFromEnv(): OpenOptions {
  const url = env().DATABASE_URL;
  return url ? { url } : {};
}

const globalForDb = globalThis as unknown as { vigilDb?: Promise<DatabaseHandle> };

/**
 * The process-wide handle, opened lazily on first use (never at build time). A second PGlite
 * on the same directory would corrupt it, so this is the only way app code gets a database.
 */
export function getDatabase(): Promise<DatabaseHandle> {
  if (!globalForDb.vigilDb) {
    const opening = openDatabase(optionsFromEnv());
    globalForDb.vigilDb = opening;
    // A failed open (the directory briefly locked, the server not up yet) is not remembered:
    // the next request tries again instead of the process staying unhealthy until restarted.
    opening.catch(() => {
      if (globalForDb.vigilDb === opening) globalForDb.vigilDb = undefined;
    });
  }
  return globalForDb.vigilDb;
}

/** Lets tests and scripts install their own handle as the process-wide one. */
export function setDatabase(handle: DatabaseHandle | undefined): void {
  globalForDb.vigilDb = handle ? Promise.resolve(handle) : undefined;
}

/** Rows of a raw `execute()` on either driver (PGlite returns { rows }, postgres.js an array). */
export function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : ((result as { rows?: T[] }).rows ?? [])) as T[];
}

/** A parameter of `preparedRows`: sent as text, so cast it in the statement ($1::bigint). */
export type RawParam = string | number | null;

interface RawClients {
  /** postgres.js: the pool, or the transaction's reserved connection. */
  unsafe?: (text: string, params: RawParam[], options: { prepare: boolean }) => { values(): Promise<unknown[][]> };
  /** PGlite. */
  query?: (text: string, params: RawParam[], options: { rowMode: 'array' }) => Promise<{ rows: unknown[][] }>;
}

/**
 * Runs one fixed statement on `q` (the database or an open transaction), rows as arrays. For the
 * few statements run once per audited request, in SQL written out: through drizzle, building
 * the query and mapping its rows cost more client CPU than everything else in the append. Like
 * every statement with parameters here (namedStatements), postgres.js prepares it once per
 * connection; after that it is one Bind/Execute. Values come back as the driver parses them (bigint as a
 * string on postgres.js, timestamps as Date); keep the statement's columns simple. A connection
 * opened with `prepare=false` (a pooler that cannot carry prepared statements) sends it unnamed.
 */
export async function preparedRows(q: Queryable, text: string, params: RawParam[]): Promise<unknown[][]> {
  // drizzle keeps the driver's client (the transaction's own, inside a transaction) on its session.
  const client = (q._.session as unknown as { client: RawClients }).client;
  if (client.unsafe) return client.unsafe(text, params, { prepare: true }).values();
  if (client.query) return (await client.query(text, params, { rowMode: 'array' })).rows;
  throw new Error('Unknown database driver.');
}

/** Ids per query in `inChunks`: far below PostgreSQL's 65,535 bind parameters, for lookups over a whole caseload. */
export const ID_CHUNK = 5_000;

/** Runs `query` over `ids` a chunk at a time and concatenates the rows. */
export async function inChunks<T>(ids: readonly string[], query: (chunk: string[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < ids.length; i += ID_CHUNK) out.push(...(await query(ids.slice(i, i + ID_CHUNK))));
  return out;
}

export async function getDb(): Promise<Db> {
  return (await getDatabase()).db;
}

export { schema };
