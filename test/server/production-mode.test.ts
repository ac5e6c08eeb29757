/**
 * A real production server (scripts/serve.mjs on a build, VIGIL_MODE=production) refuses to start
 * on each unsafe setting and beside a demo account, naming what is wrong in a sentence; a safe one
 * starts and has no test-clock route (with VIGIL_TEST_CLOCK=1 it does not start at all). Each
 * start takes a few seconds.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateHandle, openDatabase } from '@/db/client';
import { seedRolesAndUsers } from '@/db/seed';
import { ensureKeyFile, evictDataKey, setKeyProvider } from '@/lib/platform/crypto';
import { resetChainKey } from '@/lib/platform/audit/chain';
import { serverTestBuild } from './harness';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const PORT = 3690;
const root = mkdtempSync(path.join(tmpdir(), 'vigil-production-'));
const dataDir = path.join(root, 'data');
const keyFile = path.join(root, 'keys', 'keys.json');
let distDir: string;

type Env = Record<string, string>;
const SAFE: Env = {
  VIGIL_MODE: 'production',
  AUTH_SECRET: 'a-production-secret-for-this-test-only-0123456789',
  AUTH_TRUST_HOST: 'true',
  VIGIL_DATA_DIR: dataDir,
  VIGIL_KEY_FILE: keyFile,
  NEXT_TELEMETRY_DISABLED: '1',
};

interface Outcome {
  exitCode: number | null;
  output: string;
  /** Status of GET /api/test/clock when the server came up. */
  clockStatus?: number;
}

/** Starts the server with `env`; resolves when it exits or, if it comes up healthy, after probing it. */
async function runServer(env: Env): Promise<Outcome> {
  const dropped = new Set(['DATABASE_URL', 'VIGIL_TEST_CLOCK', 'VIGIL_LOG_FILE', 'VIGIL_MASTER_KEYS', 'VIGIL_INSECURE_COOKIES', 'NODE_ENV']);
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !dropped.has(name)));
  const child = spawn(process.execPath, ['scripts/serve.mjs', '-p', String(PORT), '-H', '127.0.0.1'], {
    cwd: REPO_ROOT,
    env: { ...base, NEXT_DIST_DIR: distDir, ...SAFE, ...env, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      if ((await fetch(`http://127.0.0.1:${PORT}/api/health`)).ok) {
        const clockStatus = (await fetch(`http://127.0.0.1:${PORT}/api/test/clock`)).status;
        child.kill('SIGTERM');
        return { exitCode: await exited, output, clockStatus };
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  if (child.exitCode === null) child.kill('SIGKILL');
  return { exitCode: await exited, output };
}

async function withDatabase(work: (handle: Awaited<ReturnType<typeof openDatabase>>) => Promise<void>) {
  const handle = await openDatabase({ dataDir: path.join(dataDir, 'pglite') });
  try {
    await work(handle);
  } finally {
    await handle.close();
  }
}

beforeAll(async () => {
  distDir = serverTestBuild();
  mkdirSync(dataDir, { recursive: true });
  ensureKeyFile(keyFile);
  setKeyProvider(undefined);
  process.env.VIGIL_KEY_FILE = keyFile;
  resetChainKey();
  evictDataKey();
  await withDatabase(migrateHandle);
});

afterAll(() => {
  delete process.env.VIGIL_KEY_FILE;
  rmSync(root, { recursive: true, force: true });
});

describe('a production server', () => {
  it('starts with a safe configuration, and has no test-clock route', async () => {
    const outcome = await runServer({});
    expect(outcome.output).not.toMatch(/Start-up refused/);
    expect(outcome.clockStatus).toBe(404);
  });

  it.each([
    ['VIGIL_TEST_CLOCK', { VIGIL_TEST_CLOCK: '1' }],
    ['VIGIL_INSECURE_COOKIES', { VIGIL_INSECURE_COOKIES: 'true' }],
    ['AUTH_SECRET', { AUTH_SECRET: '' }],
    ['VIGIL_KEY_FILE', { VIGIL_KEY_FILE: path.join(dataDir, 'keys.json') }],
    ['VIGIL_KEY_CACHE_SECONDS', { VIGIL_KEY_CACHE_SECONDS: 'soon' }],
  ])('refuses to start on %s, naming it', async (name, env) => {
    const outcome = await runServer(env);
    expect(outcome.clockStatus, 'never served').toBeUndefined();
    expect(outcome.exitCode).not.toBe(0);
    expect(outcome.output).toContain(name);
    expect(outcome.output).not.toMatch(/\n\s+at /); // a sentence, not a stack trace
  });

  it('refuses to start while a demo account is in the database', async () => {
    await withDatabase(async (handle) => {
      await seedRolesAndUsers(handle.db); // this process is in demo mode
    });
    const outcome = await runServer({});
    expect(outcome.clockStatus).toBeUndefined();
    expect(outcome.output).toMatch(/holds demo accounts/);
  });
});
