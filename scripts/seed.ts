import { openDatabase, optionsFromEnv } from '@/db/client';
import { seedDatabase } from '@/db/seed';
import { ensureKeyFile } from '@/lib/platform/crypto';
import { env } from '@/lib/platform/env';
import { parseArgs } from 'node:util';
import { main, progressReporter } from './cli';
import { upgradeDatabase } from './upgrade-database';

const { values } = parseArgs({
  options: { patients: { type: 'string', default: '200' }, seed: { type: 'string', default: '42' } },
});

await main(async () => {
  const patients = Number(values.patients);
  if (!Number.isInteger(patients) || patients < 0 || patients > 1_000_000) throw new Error('--patients must be a whole number from 0 to 1,000,000.');
  if (!env().VIGIL_MASTER_KEYS && ensureKeyFile()) console.log('Created a new master key file.');
  const handle = await openDatabase(optionsFromEnv());
  try {
    await upgradeDatabase(handle);
    const started = Date.now();
    const result = await seedDatabase(handle.db, { patients, seed: Number(values.seed), onProgress: progressReporter('Seeding patients') });
    console.log(`Seeded up to ${result.patients} patients in ${((Date.now() - started) / 1000).toFixed(1)}s.`);
  } finally {
    await handle.close();
  }
});
