/**
 * `npm run setup -- --email it.admin@hospital.example --name "Pat Admin"`: prepares a
 * production installation: checks the configuration as the server will (and refuses as it
 * would), creates the key file if it is the key store and is missing, migrates the database,
 * and creates the first administrator with a one-time password printed here once. First sign-in
 * then forces a new password and MFA enrolment.
 */
import { parseArgs } from 'node:util';
import { openDatabase, optionsFromEnv } from '@/db/client';
import { ensureKeyFile } from '@/lib/platform/crypto';
import { env, environmentSource } from '@/lib/platform/env';
import { checkStartup, demoAccountProblems, StartupRefused } from '@/lib/platform/startup-checks';
import { createFirstAdministrator } from '@/lib/ops/setup/first-admin';
import { main } from './cli';
import { upgradeDatabase } from './upgrade-database';

const { values } = parseArgs({ options: { email: { type: 'string' }, name: { type: 'string' } } });

await main(async () => {
  // The configuration first, so nothing is created for a server that would refuse to start.
  const verdict = await checkStartup(environmentSource(), null);
  for (const problem of verdict.warnings) console.warn(`Warning (${verdict.mode} mode): ${problem.variable} ${problem.message}`);
  const usesKeyFile = env().VIGIL_KEY_PROVIDER ? env().VIGIL_KEY_PROVIDER === 'file' : !env().VIGIL_MASTER_KEYS;
  if (usesKeyFile && ensureKeyFile()) console.log('Created a master key file (mode 0600). Keep it off the database host’s backups.');
  const handle = await openDatabase(optionsFromEnv());
  try {
    await upgradeDatabase(handle);
    if (verdict.mode === 'production') {
      const demo = await demoAccountProblems(handle.db);
      if (demo.length) throw new StartupRefused(demo);
    }
    const result = await createFirstAdministrator(handle.db, { email: values.email, displayName: values.name });
    if (!result.ok) throw new Error(result.message);
    console.log(`Created the administrator ${result.value.email}.`);
    console.log(`One-time password (shown only now): ${result.value.oneTimePassword}`);
    console.log('At first sign-in they choose a new password and set up two-factor authentication.');
  } finally {
    await handle.close();
  }
});
