/**
 * The restore drill of docs/operations.md, for real: a seeded PostgreSQL database is dumped with
 * pg_dump, restored with pg_restore into a fresh one, and every chart is read through the
 * product's own read path with the key file; then the same restore without the key file reads
 * nothing and says why. Uses the suite's PostgreSQL when stage 4 provides one, otherwise starts
 * its own throwaway server with scripts/ensure-postgres.sh.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { migrateDatabase, openDatabase, rowsOf, setDatabase, type DatabaseHandle } from '@/db/client';
import { patients } from '@/db/schema';
import { seedDatabase, syntheticPatient } from '@/db/seed';
import { resetChainKey } from '@/lib/platform/audit/chain';
import { ensureKeyFile, evictDataKey, setKeyProvider } from '@/lib/platform/crypto';
import { getChart } from '@/lib/features/records';
import { viewer } from '@/test/fixtures';
import { sql } from 'drizzle-orm';

const PATIENTS = 4;
const SEED = 42;
const work = mkdtempSync(path.join(tmpdir(), 'vigil-restore-drill-'));
const keyFile = path.join(work, 'keys', 'keys.json');
const bin = path.join('/usr/lib/postgresql', readdirSync('/usr/lib/postgresql').sort().at(-1) ?? '', 'bin');
let adminUrl = process.env.VIGIL_TEST_DATABASE_URL;
let ownServerDir: string | undefined;
let admin: ReturnType<typeof postgres>;
let restored: DatabaseHandle | undefined;

const withDatabase = (url: string, name: string) => Object.assign(new URL(url), { pathname: `/${name}` }).toString();
const sourceName = `vigil_drill_src_${process.pid}`;
const targetName = `vigil_drill_dst_${process.pid}`;

/** Opens the restored database as the app's and installs the key store the environment names. */
function useKeys(file: string) {
  vi.stubEnv('VIGIL_KEY_FILE', file);
  vi.stubEnv('VIGIL_MASTER_KEYS', '');
  vi.stubEnv('VIGIL_KEY_PROVIDER', '');
  setKeyProvider(undefined);
  resetChainKey();
  evictDataKey();
}

beforeAll(async () => {
  if (!adminUrl) {
    const exports = execFileSync('bash', ['scripts/ensure-postgres.sh'], { encoding: 'utf8' });
    adminUrl = /PG_TEST_ADMIN_URL='([^']+)'/.exec(exports)?.[1];
    ownServerDir = /PG_TEST_DIR='([^']+)'/.exec(exports)?.[1];
  }
  if (!adminUrl) throw new Error('No PostgreSQL server for the restore drill.');
  admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${sourceName}`);
  await admin.unsafe(`CREATE DATABASE ${targetName}`);
}, 180_000);

afterAll(async () => {
  await restored?.close();
  setDatabase(undefined);
  await admin?.unsafe(`DROP DATABASE IF EXISTS ${sourceName} WITH (FORCE)`);
  await admin?.unsafe(`DROP DATABASE IF EXISTS ${targetName} WITH (FORCE)`);
  await admin?.end({ timeout: 5 });
  if (ownServerDir) execFileSync('bash', ['scripts/ensure-postgres.sh', 'stop', ownServerDir]);
  rmSync(work, { recursive: true, force: true });
  vi.unstubAllEnvs();
  setKeyProvider(undefined);
});

describe('restore drill (pg_dump → pg_restore)', () => {
  it('reads every chart of the restored database with the key file, and nothing without it', async () => {
    // 1. A seeded production-like database, its keys in a file of their own.
    useKeys(keyFile);
    ensureKeyFile(keyFile);
    const sourceUrl = withDatabase(adminUrl!, sourceName);
    await migrateDatabase({ url: sourceUrl });
    const source = await openDatabase({ url: sourceUrl, max: 2 });
    await seedDatabase(source.db, { patients: PATIENTS, seed: SEED });
    await source.close();

    // 2. The backup and the restore, with the operator's own tools.
    const dump = path.join(work, 'vigil.dump');
    execFileSync(path.join(bin, 'pg_dump'), ['--format=custom', '--file', dump, '--dbname', sourceUrl]);
    execFileSync(path.join(bin, 'pg_restore'), ['--no-owner', '--exit-on-error', '--dbname', withDatabase(adminUrl!, targetName), dump]);

    // 3. The restored database, read through the product with the key file.
    restored = await openDatabase({ url: withDatabase(adminUrl!, targetName), max: 4 });
    setDatabase(restored);
    const ids = (await restored.db.select({ id: patients.id }).from(patients)).map((p) => p.id);
    expect(ids).toHaveLength(PATIENTS);
    const physician = await viewer(restored.db, 'physician@vigil.test');
    const familyNames = new Set<string>();
    for (let index = 0; index < PATIENTS; index++) familyNames.add(syntheticPatient(index, SEED).demographics.familyName);
    const read = new Set<string>();
    for (const id of ids) {
      const chart = await getChart(physician, id);
      if (!chart.ok) throw new Error(chart.message);
      expect(chart.value.demographics?.status).toBe('ok');
      if (chart.value.demographics?.status === 'ok') read.add(chart.value.demographics.value.familyName);
      for (const section of Object.values(chart.value.sections)) expect(JSON.stringify(section)).not.toContain('"unavailable"');
    }
    expect(read).toEqual(familyNames);

    // 4. The same restore without the key file: every read refuses and says why; no PHI anywhere.
    useKeys(path.join(work, 'no-such-dir', 'keys.json'));
    for (const id of ids) {
      const outcome = await getChart(physician, id).then(
        (result) => JSON.stringify(result),
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      );
      expect(outcome).not.toMatch(/"ok":true/);
      expect(outcome).toMatch(/master key/i);
      for (const name of familyNames) expect(outcome).not.toContain(name);
    }
    const stored = JSON.stringify(rowsOf(await restored.db.execute(sql`SELECT * FROM patients`)));
    for (const name of familyNames) expect(stored, 'the database alone holds no readable name').not.toContain(name);
  }, 240_000);
});
