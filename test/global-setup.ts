/**
 * Vitest global setup: migrates one in-memory PGlite database per run and writes its data
 * directory to a tarball in a temp dir; test/db.ts starts every test file's database from it
 * (PGlite `loadDataDir`, ~1 s) instead of a fresh initdb plus every migration (~3-4 s on two
 * idle cores). The template is built from db/migrations as they are when the run starts, so a new
 * migration is picked up by the next run with nothing to regenerate (and test/db.ts migrates on
 * top of the template, so one added during a watch session is applied too).
 *
 * PostgreSQL runs (VIGIL_TEST_DATABASE_URL) build nothing: there CREATE DATABASE plus migrations
 * costs ~0.2 s per file, and a template database would save only ~0.1 s of it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { migrateHandle, openDatabase } from '../db/client';
import { PGLITE_TEMPLATE_ENV } from './db';

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.VIGIL_TEST_DATABASE_URL) return undefined;
  const dir = await mkdtemp(path.join(tmpdir(), 'vigil-pglite-template-'));
  try {
    const handle = await openDatabase({ dataDir: 'memory://' });
    try {
      await migrateHandle(handle);
      const client = (handle.db as unknown as { $client: PGlite }).$client;
      await client.exec('CHECKPOINT'); // nothing left in the WAL for each file's start to replay
      // Uncompressed: gzip takes longer to write and to read back than the ~40 MB costs.
      const tarball = await client.dumpDataDir('none');
      const file = path.join(dir, 'pgdata.tar');
      await writeFile(file, new Uint8Array(await tarball.arrayBuffer()));
      // Test workers are started after global setup and inherit the environment.
      process.env[PGLITE_TEMPLATE_ENV] = file;
    } finally {
      await handle.close();
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return async () => {
    Reflect.deleteProperty(process.env, PGLITE_TEMPLATE_ENV);
    await rm(dir, { recursive: true, force: true });
  };
}
