/**
 * Bulk writes for the seed: COPY through the database's own driver in one transaction, and a
 * load into empty tables with their indexes built once at the end instead of kept up row by row.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PGlite } from '@electric-sql/pglite';
import type { Sql } from 'postgres';
import type { Db } from './client';

/** The statements of one open transaction: plain SQL, and COPY … FROM with its input as text. */
export interface CopyWriter {
  run<T>(statement: string): Promise<T[]>;
  /** `copyFrom` is `COPY table (columns) FROM`; the writer names where the input comes from. */
  copy(copyFrom: string, text: string): Promise<void>;
}

/** Runs `work` in one transaction of the driver under `db` (drizzle has no COPY). */
export async function inCopyTransaction<T>(db: Db, work: (writer: CopyWriter) => Promise<T>): Promise<T> {
  const client = (db as unknown as { $client: unknown }).$client;
  if (isPglite(client)) {
    return client.transaction((tx) =>
      work({
        run: async <R>(statement: string) => (await tx.query<R>(statement)).rows,
        // PGlite reads COPY input from a blob it mounts at /dev/blob.
        copy: async (copyFrom, text) => void (await tx.query(`${copyFrom} '/dev/blob'`, [], { blob: new Blob([text]) })),
      }),
    );
  }
  return (client as Sql).begin((tx) =>
    work({
      run: async <R>(statement: string) => (await tx.unsafe(statement)) as unknown as R[],
      copy: async (copyFrom, text) => pipeline(Readable.from([text]), await tx.unsafe(`${copyFrom} STDIN`).writable()),
    }),
  ) as Promise<T>;
}

function isPglite(client: unknown): client is PGlite {
  return typeof client === 'object' && client !== null && 'transaction' in client && 'exec' in client;
}

interface IndexDefinition {
  table: string;
  index: string;
  createIndex: string;
  /** The primary-key, unique or exclusion constraint the index enforces, if any. */
  constraint: string | null;
  constraintDef: string | null;
}

const quoted = (name: string) => `"${name.replaceAll('"', '""')}"`;
const qualified = (name: string) => `public.${quoted(name)}`;

/**
 * Runs `load` (writes through the same transaction as `writer`) with the indexes of `tables`
 * dropped, then builds them again, when every one of `tables` is empty and this role owns them;
 * returns false without running `load` otherwise. Sorting a table's rows once builds an index
 * far cheaper than inserting them into it one by one at random places (ids are random UUIDs).
 *
 * Each index is re-created from the definition the catalog gave for it (pg_get_indexdef,
 * pg_get_constraintdef), under its own name, so the tables end with exactly the indexes and
 * constraints they had; an index a foreign key depends on (a referenced key) is left in place.
 * All of it is one transaction: a load stopped part-way (an error, a crash) rolls back to the
 * empty tables with every index, never to a partial load or a table without its indexes.
 *
 * `truncate` tables are truncated (empty already, checked under the lock): a table emptied in
 * the transaction that fills it is written without WAL when the server runs with
 * wal_level=minimal (the seed's embedded database, see db/client.ts), and synced at commit.
 */
export async function withIndexesBuiltAfter(writer: CopyWriter, tables: { all: string[]; truncate: string[] }, load: () => Promise<void>): Promise<boolean> {
  const names = tables.all.map((t) => `'${t}'`).join(', ');
  const [owned] = await writer.run<{ owned: boolean }>(
    `SELECT bool_and(pg_has_role(relowner, 'USAGE')) AS owned FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relname IN (${names})`,
  );
  if (!owned?.owned) return false;
  await writer.run(`LOCK TABLE ${tables.all.map(qualified).join(', ')} IN ACCESS EXCLUSIVE MODE`);
  const [empty] = await writer.run<{ empty: boolean }>(`SELECT ${tables.all.map((t) => `NOT EXISTS (SELECT 1 FROM ${qualified(t)})`).join(' AND ')} AS empty`);
  if (!empty?.empty) return false;
  const indexes = await writer.run<IndexDefinition>(`
    SELECT t.relname AS "table", i.relname AS "index", pg_get_indexdef(x.indexrelid) AS "createIndex",
      c.conname AS "constraint", pg_get_constraintdef(c.oid) AS "constraintDef"
    FROM pg_index x
    JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_class i ON i.oid = x.indexrelid
    LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid AND c.contype IN ('p', 'u', 'x')
    WHERE t.relnamespace = 'public'::regnamespace AND t.relname IN (${names})
      AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = x.indexrelid)
    ORDER BY t.relname, i.relname`);
  if (tables.truncate.length > 0) await writer.run(`TRUNCATE ${tables.truncate.map(qualified).join(', ')}`);
  for (const { table, index, constraint } of indexes) {
    await writer.run(constraint ? `ALTER TABLE ${qualified(table)} DROP CONSTRAINT ${quoted(constraint)}` : `DROP INDEX ${qualified(index)}`);
  }
  await load();
  for (const { table, createIndex, constraint, constraintDef } of indexes) {
    await writer.run(constraint ? `ALTER TABLE ${qualified(table)} ADD CONSTRAINT ${quoted(constraint)} ${constraintDef}` : createIndex);
  }
  return true;
}
