/**
 * `npm run audit:verify` end to end: the real script in a child process, against a PGlite data
 * directory (or a PostgreSQL test database), with keys passed the way a deployment passes them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateHandle, openDatabase, setDatabase, type DatabaseHandle } from '@/db/client';
import { setKeyProvider } from '@/lib/platform/crypto';
import { generateKeyMaterial, StaticKeyProvider } from '@/lib/platform/crypto/key-provider';
import { appendMany, asOwnerWithoutTriggers } from '@/test/audit-fixtures';
import { createTestDatabase, testDatabaseKind, type TestDatabase } from '@/test/db';

const keys = generateKeyMaterial();
let dir: string;
let pg: TestDatabase | undefined;

/** The database as the test's own process sees it; PGlite is closed again before the script runs. */
async function withDatabase(work: (handle: DatabaseHandle) => Promise<void>): Promise<void> {
  if (pg) return work(pg);
  const handle = await openDatabase({ dataDir: path.join(dir, 'pglite') });
  setDatabase(handle);
  try {
    await work(handle);
  } finally {
    setDatabase(undefined);
    await handle.close();
  }
}

function verify(...args: string[]) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    VIGIL_DATA_DIR: dir,
    VIGIL_MASTER_KEYS: JSON.stringify(keys),
    VIGIL_AUDIT_CHECKPOINT: path.join(dir, 'checkpoint.json'),
  };
  delete env.DATABASE_URL;
  if (pg) env.DATABASE_URL = pg.url;
  const run = spawnSync('npx', ['tsx', '--conditions=react-server', 'scripts/audit-verify.ts', ...args], { env, encoding: 'utf8', timeout: 120_000 });
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}

beforeAll(async () => {
  setKeyProvider(new StaticKeyProvider(keys));
  dir = mkdtempSync(path.join(tmpdir(), 'vigil-verify-cli-'));
  if (testDatabaseKind === 'postgres') pg = await createTestDatabase();
  await withDatabase(async (handle) => {
    if (!pg) await migrateHandle(handle);
    await appendMany(handle.db, 20);
  });
});
afterAll(async () => {
  await pg?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe(`npm run audit:verify (${testDatabaseKind})`, () => {
  it('prints OK with the count and root, writes a checkpoint, and fails naming the first broken entry', { timeout: 300_000 }, async () => {
    const ok = verify('--checkpoint');
    expect(ok.out).toMatch(/^OK: 20 entries in 1 chain, head seq 20, root [0-9a-f]{64}/m);
    expect(ok.out).toMatch(/No checkpoint at/);
    expect(ok.out).toMatch(/Wrote a signed checkpoint at seq 20/);
    expect(ok.status).toBe(0);
    expect(existsSync(path.join(dir, 'checkpoint.json'))).toBe(true);

    // Deleting the newest entries leaves a consistent chain: only the checkpoint catches it.
    await withDatabase((handle) => asOwnerWithoutTriggers(handle.db, ['DELETE FROM audit_log WHERE seq > 16']));
    const truncated = verify();
    expect(truncated.out).toMatch(/^FAILED: first broken entry is entry 17 of chain 0 \(truncated\)/m);
    expect(truncated.status).toBe(1);
  });
});
