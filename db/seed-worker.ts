/**
 * A worker thread of the seed (db/seed.ts, `workers`): generates and seals the batches it is
 * sent and posts back their COPY text, so sealing runs beside the thread writing the database.
 */
import { parentPort } from 'node:worker_threads';
import { seedBatch, type SeedJob } from './seed';

parentPort!.on('message', (job: SeedJob) => parentPort!.postMessage({ from: job.from, batch: seedBatch(job) }));
