/**
 * `npm run demo`: key file, migrations, synthetic data (first run only), production build, then
 * the portal's server (scripts/serve.mjs), printing the URL and demo logins once it answers.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase, optionsFromEnv } from '@/db/client';
import { countPatients, demoUsers, DEMO_PASSWORD, mfaDemoUser, seedDatabase } from '@/db/seed';
import { ensureKeyFile } from '@/lib/platform/crypto';
import { env } from '@/lib/platform/env';
import { main, progressReporter } from './cli';
import { upgradeDatabase } from './upgrade-database';

const { values } = parseArgs({
  options: {
    fresh: { type: 'boolean', default: false },
    'skip-build': { type: 'boolean', default: false },
    patients: { type: 'string', default: '200' },
  },
});

const dataDir = path.resolve(env().VIGIL_DATA_DIR);
const port = process.env.PORT ?? '3000';

/** A per-installation AUTH_SECRET for the demo, kept beside the data (never in the repo). */
function demoAuthSecret(): string {
  if (process.env.AUTH_SECRET) return process.env.AUTH_SECRET;
  const file = path.join(dataDir, 'auth-secret');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

async function prepareDatabase(): Promise<void> {
  const handle = await openDatabase(optionsFromEnv());
  try {
    await upgradeDatabase(handle);
    if ((await countPatients(handle.db)) === 0) {
      await seedDatabase(handle.db, { patients: Number(values.patients), onProgress: progressReporter('Seeding demo patients') });
    }
  } finally {
    await handle.close();
  }
}

async function waitForHealth(url: string, child: ReturnType<typeof spawn>): Promise<void> {
  for (let i = 0; i < 240 && child.exitCode === null; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('The portal did not become healthy.');
}

await main(async () => {
  if (values.fresh && !env().DATABASE_URL) rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  if (!env().VIGIL_MASTER_KEYS && ensureKeyFile()) console.log('Created a master key file (mode 0600).');
  await prepareDatabase();

  if (!values['skip-build']) {
    console.log('Building the portal (next build)…');
    const build = spawnSync('npx', ['next', 'build'], { stdio: 'inherit', env: process.env });
    if (build.status !== 0) throw new Error('next build failed.');
  }

  // The server runs with NODE_ENV=production, which alone would mean production mode.
  const serverEnv = { ...process.env, VIGIL_MODE: 'demo', AUTH_SECRET: demoAuthSecret(), AUTH_TRUST_HOST: 'true', VIGIL_DATA_DIR: dataDir };
  const server = spawn(process.execPath, ['scripts/serve.mjs', '-p', port], { stdio: 'inherit', env: serverEnv });
  const stop = (signal: NodeJS.Signals) => server.kill(signal);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await waitForHealth(`http://127.0.0.1:${port}/api/health`, server);
  console.log(`\nVigil is running at http://localhost:${port}\n`);
  console.log(`Demo accounts (password: ${DEMO_PASSWORD}):`);
  for (const user of demoUsers) console.log(`  ${user.email.padEnd(24)} ${user.roles.join(', ')}`);
  console.log(`  ${mfaDemoUser.email.padEnd(24)} ${mfaDemoUser.roles.join(', ')}, two-factor on (code: npx tsx scripts/totp.ts)`);
  console.log('\nPress Ctrl+C to stop.');
  await new Promise<void>((resolve) => server.on('exit', () => resolve()));
});
