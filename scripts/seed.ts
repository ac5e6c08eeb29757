import { openDatabase, optionsFromEnv } from '@/db/client';
import { seedDatabase } from '@/db/seed';
import { ensureKeyFile } from '@/lib/platform/crypto';
import { env } from '@/lib/platform/env';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { main, progressReporter } from './cli';
import { upgradeDatabase } from './upgrade-database';

const { values } = parseArgs({
  options: { patients: { type: 'string', default: '200' }, seed: { type: 'string', default: '42' }, workers: { type: 'string' }, batch: { type: 'string', default: '500' } },
});

await main(async () => {
  const patients = Number(values.patients);
  if (!Number.isInteger(patients) || patients < 0 || patients > 1_000_000) throw new Error('--patients must be a whole number from 0 to 1,000,000.');
  // Sealing runs on worker threads beside this one, which writes: one per core. On PostgreSQL
  // this thread only streams; on PGlite it runs the database itself, and two workers on two
  // cores still kept it fed better than one (30,000 patients: 35.6 s against 39.2 s).
  const workers = values.workers === undefined ? os.availableParallelism() : Number(values.workers);
  if (!Number.isInteger(workers) || workers < 0 || workers > 64) throw new Error('--workers must be a whole number from 0 to 64.');
  const batchSize = Number(values.batch);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new Error('--batch must be a whole number from 1 to 10,000.');
  if (!env().VIGIL_MASTER_KEYS && ensureKeyFile()) console.log('Created a new master key file.');
  // No Nagle delay on PostgreSQL: each COPY's closing message would wait out the server's delayed
  // ACK. PGlite without WAL for the tables a fresh seed fills (db/bulk-load.ts).
  const handle = await openDatabase({ ...optionsFromEnv(), noDelay: true, minimalWal: true });
  try {
    await upgradeDatabase(handle);
    const started = Date.now();
    const result = await seedDatabase(handle.db, { patients, seed: Number(values.seed), workers, batchSize, onProgress: progressReporter('Seeding patients'), onIndexing: () => console.error('Building the indexes of the seeded tables…') });
    // CPU time of every thread of this process (the workers' too): what the seed costs, whatever else shares the machine.
    const cpu = process.cpuUsage();
    console.log(`Seeded up to ${result.patients} patients in ${((Date.now() - started) / 1000).toFixed(1)}s (${((cpu.user + cpu.system) / 1e6).toFixed(1)} CPU-seconds in this process).`);
  } finally {
    await handle.close();
  }
});
