/**
 * The bulk seed, as `npm run db:seed` runs it (worker threads sealing, COPY writing, the checks
 * of references to the batch's own patients skipped as a superuser; into an empty database one
 * transaction with the indexes built at the end, then more patients batch by batch), on PGlite
 * or, when VIGIL_TEST_DATABASE_URL is set, on a fresh PostgreSQL database, leaves data exactly
 * as valid as the app's own writes: every patient is the one its seed number says, every chart
 * opens against its head, every blind index finds its patient, every row references a patient
 * that exists, the care teams are the demo ones, the trail verifies, the tables have exactly
 * the indexes and constraints the migrations made, and a second run adds nothing. A fresh seed
 * killed part-way leaves no patient and every index, and the next run seeds them all.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { count, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, rowsOf, setDatabase, type DatabaseHandle } from '@/db/client';
import { createTestDatabase, type TestDatabase } from '@/test/db';
import { careTeam, chartPages, chartSectionHeads, chartSectionTables, patientKeys, patients, users } from '@/db/schema';
import { demoCaseload, staffUsers, syntheticPatient } from '@/db/seed';
import type { Demographics, Insurance } from '@/lib/domain/chart/sections';
import { resetChainKey } from '@/lib/platform/audit/chain';
import { verifyChain } from '@/lib/platform/audit/verify';
import { blindIndex, evictDataKey, getPatientCiphers, setKeyProvider } from '@/lib/platform/crypto';
import { generateKeyMaterial, StaticKeyProvider } from '@/lib/platform/crypto/key-provider';
import { getChart } from '@/lib/features/records';
import { loadSealedPages, openSealedSection } from '@/lib/features/records/pages';
import { entrySections, type EntrySection } from '@/lib/features/records/tables';

const sections = Object.keys(entrySections) as EntrySection[];
import { viewer as signIn } from '@/test/fixtures';

const run = promisify(execFile);
const PATIENTS = 300;
/**
 * First into the empty database (one transaction, indexes built after), four batches over two
 * workers: batches come back out of order and must be written in order. Then up to PATIENTS,
 * adding to those (a transaction per batch, indexes kept up).
 */
const FRESH_ARGS = ['--patients', '200', '--workers', '2', '--batch', '50'];
const SEED_ARGS = ['--patients', String(PATIENTS), '--workers', '2', '--batch', '50'];
const FIRST_MRN = 40_000_000;

let dir: string;
let handle: DatabaseHandle;
/** The PostgreSQL database the child seeds, when the suite runs on PostgreSQL; else PGlite in `dir`. */
let postgres: TestDatabase | undefined;

/** The environment of a `npm run db:seed` of this test's: its data directory (or database) and key file. */
function seedEnv(dataDir: string, database: TestDatabase | undefined): NodeJS.ProcessEnv {
  // The test's own database, keys and mode stay out: the child seeds this test's database with the key file above.
  const { DATABASE_URL: _url, VIGIL_MASTER_KEYS: _keys, VIGIL_KEY_PROVIDER: _provider, VIGIL_MODE: _mode, ...inherited } = process.env;
  return { ...inherited, VIGIL_DATA_DIR: dataDir, VIGIL_KEY_FILE: path.join(dataDir, 'keys.json'), ...(database ? { DATABASE_URL: database.url } : {}) };
}
const SEED_COMMAND = ['--import', 'tsx', '--conditions=react-server', 'scripts/seed.ts'];

/** `npm run db:seed` in its own process, on a data directory and key file of this test's. */
async function seed(args: string[], dataDir = dir, database = postgres): Promise<string> {
  const { stdout } = await run(process.execPath, [...SEED_COMMAND, ...args], { env: seedEnv(dataDir, database), timeout: 240_000 });
  return stdout;
}

/** A new directory with a key file, for a seed of its own. */
function seedDir(): string {
  const made = mkdtempSync(path.join(os.tmpdir(), 'vigil-seed-'));
  writeFileSync(path.join(made, 'keys.json'), JSON.stringify(generateKeyMaterial()), { mode: 0o600 });
  return made;
}

/** Every index and index-backed constraint of the public tables, as the catalog defines them, and whether each index is valid. */
async function indexesAndConstraints(db: DatabaseHandle['db']): Promise<string[]> {
  const rows = rowsOf<{ line: string }>(
    await db.execute(sql`
      SELECT format('%s %s valid=%s', t.relname, pg_get_indexdef(x.indexrelid), x.indisvalid) AS line
      FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid WHERE t.relnamespace = 'public'::regnamespace
      UNION ALL
      SELECT format('%s %s %s %s validated=%s', t.relname, c.conname, c.contype, pg_get_constraintdef(c.oid), c.convalidated)
      FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid WHERE t.relnamespace = 'public'::regnamespace`),
  );
  return rows.map((r) => r.line).sort();
}

beforeAll(async () => {
  dir = seedDir();
  if (process.env.VIGIL_TEST_DATABASE_URL) postgres = await createTestDatabase();
  expect(await seed(FRESH_ARGS)).toContain('Seeded up to 200 patients');
  expect(await seed(SEED_ARGS)).toContain(`Seeded up to ${PATIENTS} patients`);
  handle = postgres ?? (await openDatabase({ dataDir: path.join(dir, 'pglite') }));
  setDatabase(handle);
  setKeyProvider(new StaticKeyProvider(JSON.parse(readFileSync(path.join(dir, 'keys.json'), 'utf8'))));
  resetChainKey();
  evictDataKey();
}, 300_000);

afterAll(async () => {
  setDatabase(undefined);
  await handle?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every seeded patient's id, by seed number. */
async function patientsByIndex(): Promise<Map<number, { id: string; sealed: string; insurance: string; mrnIndex: string; dobIndex: string; lastNameIndex: string }>> {
  const rows = await handle.db
    .select({ id: patients.id, sealed: patients.sealedDemographics, insurance: patients.sealedInsurance, mrnIndex: patients.mrnIndex, dobIndex: patients.dobIndex, lastNameIndex: patients.lastNameIndex })
    .from(patients);
  const { ciphers } = await getPatientCiphers(handle.db, rows.map((r) => r.id));
  const byIndex = new Map<number, (typeof rows)[number]>();
  for (const row of rows) {
    const d = ciphers.get(row.id)!.open<Demographics>('patients', 'sealed_demographics', row.id, row.sealed);
    const index = Number(d.mrn) - FIRST_MRN;
    expect(byIndex.has(index), `MRN ${d.mrn} seeded twice`).toBe(false);
    byIndex.set(index, row);
  }
  return byIndex;
}

describe('npm run db:seed with worker threads and COPY', () => {
  it('seeds each patient once, exactly as its seed number says, with blind indexes that find it', async () => {
    const byIndex = await patientsByIndex();
    expect([...byIndex.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: PATIENTS }, (_, i) => i));
    const { ciphers } = await getPatientCiphers(handle.db, [...byIndex.values()].map((r) => r.id));
    for (const [index, row] of byIndex) {
      const expected = syntheticPatient(index, 42);
      const cipher = ciphers.get(row.id)!;
      expect(cipher.open<Demographics>('patients', 'sealed_demographics', row.id, row.sealed)).toEqual(expected.demographics);
      expect(cipher.open<Insurance>('patients', 'sealed_insurance', row.id, row.insurance)).toEqual(expected.insurance);
      expect(row).toMatchObject({
        mrnIndex: blindIndex('mrn', expected.demographics.mrn),
        dobIndex: blindIndex('dob', expected.demographics.dateOfBirth),
        lastNameIndex: blindIndex('last_name', expected.demographics.familyName),
      });
    }
  });

  it('seals every section onto pages that open against their head, one page entry per entry row', async () => {
    const ids = (await handle.db.select({ id: patients.id }).from(patients)).map((r) => r.id);
    const { ciphers } = await getPatientCiphers(handle.db, ids);
    let entries = 0;
    for (const id of ids) {
      const wanted = new Map<EntrySection, number[]>();
      const rowsBySection = new Map<EntrySection, Array<{ id: string; pageNo: number | null }>>();
      for (const section of sections) {
        const { table } = entrySections[section];
        const rows = await handle.db.select({ id: table.id, pageNo: table.pageNo }).from(table).where(eq(table.patientId, id));
        rowsBySection.set(section, rows);
        wanted.set(section, [...new Set(rows.map((r) => r.pageNo!))]);
      }
      const sealed = await loadSealedPages(handle.db, id, wanted);
      for (const section of sections) {
        const rows = rowsBySection.get(section)!;
        if (rows.length === 0) {
          expect(sealed.get(section)?.head).toBeUndefined();
          continue;
        }
        const { head, pages } = openSealedSection(ciphers.get(id)!, section, sealed.get(section));
        expect(head.total).toBe(rows.length);
        for (const row of rows) expect(pages.get(row.pageNo!)?.[row.id], `${section} entry on its page`).toBeDefined();
        entries += rows.length;
      }
    }
    expect(entries).toBeGreaterThan(PATIENTS * 20);
  }, 120_000);

  it('leaves no row that references a missing patient or user (the checks COPY skipped)', async () => {
    const tables = [patientKeys, chartPages, chartSectionHeads, careTeam, ...Object.values(chartSectionTables)];
    for (const table of tables) {
      const [orphans] = rowsOf<{ n: number }>(
        await handle.db.execute(sql`SELECT count(*)::int AS n FROM ${table} t WHERE NOT EXISTS (SELECT 1 FROM ${patients} p WHERE p.id = t.patient_id)`),
      );
      expect(orphans!.n).toBe(0);
    }
    const [users404] = rowsOf<{ n: number }>(await handle.db.execute(sql`SELECT count(*)::int AS n FROM ${careTeam} c WHERE NOT EXISTS (SELECT 1 FROM ${users} u WHERE u.id = c.user_id)`));
    expect(users404!.n).toBe(0);
  });

  it('puts the demo clinicians on the care teams of the first patients', async () => {
    const byIndex = await patientsByIndex();
    const teamOf = async (email: string) => {
      const rows = await handle.db.select({ patientId: careTeam.patientId }).from(careTeam).innerJoin(users, eq(users.id, careTeam.userId)).where(eq(users.email, email));
      return new Set(rows.map((r) => r.patientId));
    };
    const first = (n: number) => new Set(Array.from({ length: n }, (_, i) => byIndex.get(i)!.id));
    expect(await teamOf('physician@vigil.test')).toEqual(first(demoCaseload.physician));
    expect(await teamOf('nurse@vigil.test')).toEqual(first(demoCaseload.nurse));
    expect(await teamOf('billing@vigil.test')).toEqual(first(demoCaseload.billing));
    expect(await teamOf(staffUsers[0]!.email)).toEqual(first(demoCaseload.staff));
  });

  it('opens the physician’s charts through the app with nothing unavailable, and the trail verifies', async () => {
    const physician = await signIn(handle.db, 'physician@vigil.test');
    const team = await handle.db.select({ id: careTeam.patientId }).from(careTeam).where(eq(careTeam.userId, physician.userId));
    expect(team).toHaveLength(demoCaseload.physician);
    for (const { id } of team) {
      const chart = await getChart(physician, id);
      if (!chart.ok) throw new Error(chart.message);
      expect(chart.value.demographics?.status).toBe('ok');
      expect(Object.values(chart.value.sections).map((view) => view.status)).toEqual(Object.values(chart.value.sections).map(() => 'ok'));
    }
    expect((await verifyChain({ db: handle.db })).ok).toBe(true);
  }, 120_000);

  it('adds nothing when run again for the same number of patients', async () => {
    // A PGlite data directory is one process's at a time.
    if (!postgres) await handle.close();
    await seed(SEED_ARGS);
    if (!postgres) handle = await openDatabase({ dataDir: path.join(dir, 'pglite') });
    const [row] = await handle.db.select({ n: count() }).from(patients);
    expect(row!.n).toBe(PATIENTS);
  }, 300_000);

  it('leaves the seeded tables exactly the indexes and constraints the migrations made, all valid', async () => {
    const fresh = await createTestDatabase();
    try {
      const migrated = await indexesAndConstraints(fresh.db);
      expect(migrated.some((line) => line.startsWith('chart_pages ') && line.includes('PRIMARY KEY'))).toBe(true);
      expect(await indexesAndConstraints(handle.db)).toEqual(migrated);
    } finally {
      await fresh.close();
      setDatabase(handle);
    }
  });
});

describe('a fresh seed stopped part-way', () => {
  it('leaves no patient and every index, and the next run seeds every patient', async () => {
    const killedDir = seedDir();
    const database = process.env.VIGIL_TEST_DATABASE_URL ? await createTestDatabase() : undefined;
    let reopened: DatabaseHandle | undefined;
    try {
      // Killed (no chance to clean up) once the first batches are written, inside the seed's transaction.
      const child = spawn(process.execPath, [...SEED_COMMAND, '--patients', '3000', '--workers', '2', '--batch', '100'], { env: seedEnv(killedDir, database), stdio: ['ignore', 'ignore', 'pipe'] });
      const exited = new Promise((resolve) => child.on('exit', resolve));
      await new Promise<void>((resolve, reject) => {
        child.stderr.on('data', (chunk: Buffer) => chunk.toString().includes('Seeding patients: ') && resolve());
        child.on('exit', () => reject(new Error('The seed ended before it was stopped.')));
      });
      child.kill('SIGKILL');
      await exited;

      const open = async () => database ?? (await openDatabase({ dataDir: path.join(killedDir, 'pglite') }));
      reopened = await open();
      const [none] = await reopened.db.select({ n: count() }).from(patients);
      expect(none!.n).toBe(0);
      const [noPages] = await reopened.db.select({ n: count() }).from(chartPages);
      expect(noPages!.n).toBe(0);
      const fresh = await createTestDatabase();
      const migrated = await indexesAndConstraints(fresh.db);
      await fresh.close();
      expect(await indexesAndConstraints(reopened.db)).toEqual(migrated);
      if (!database) {
        await reopened.close();
        reopened = undefined;
      }

      expect(await seed(['--patients', '120', '--workers', '2', '--batch', '50'], killedDir, database)).toContain('Seeded up to 120 patients');
      reopened = await open();
      const [all] = await reopened.db.select({ n: count() }).from(patients);
      expect(all!.n).toBe(120);
    } finally {
      setDatabase(handle);
      if (!database) await reopened?.close();
      await database?.close();
      rmSync(killedDir, { recursive: true, force: true });
    }
  }, 300_000);
});
