/**
 * `npm run keys:shred -- <patient-id>`: crypto-shreds one patient. Their data key is destroyed,
 * so every copy of their PHI (rows, audit state, backups, replicas) becomes unreadable; the
 * chart then reads as erased. Irreversible. Recorded in the audit trail as `key.shred`.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { openDatabase, optionsFromEnv } from '@/db/client';
import { flushKeyAccessLog, startKeyAccessLog } from '@/lib/platform/crypto/key-access-flush';
import { shredPatient } from '@/lib/ops/keys/shred';
import { main } from './cli';

const { positionals } = parseArgs({ allowPositionals: true, options: {} });

await main(async () => {
  const patientId = positionals[0] ?? '';
  if (positionals.length !== 1 || !z.string().uuid().safeParse(patientId).success) {
    throw new Error('Usage: npm run keys:shred -- <patient-id>   (one patient id, a UUID)');
  }
  const handle = await openDatabase(optionsFromEnv());
  startKeyAccessLog(async () => handle.db, 'vigil keys:shred');
  try {
    const outcome = await shredPatient(handle.db, patientId, { userId: null, ip: null, userAgent: 'vigil keys:shred' });
    switch (outcome.status) {
      case 'not_found':
        throw new Error(`No data key for patient ${patientId}: nothing was changed.`);
      case 'already_shredded':
        console.log(`Patient ${patientId} was already crypto-shredded on ${outcome.at.toISOString()}; nothing changed.`);
        break;
      case 'shredded':
        console.log(
          `Crypto-shredded patient ${patientId} at ${outcome.at.toISOString()}: their data key is destroyed and ` +
            'their records now read as erased, in every running portal process too. This cannot be undone. ' +
            'Recorded in the audit trail (key.shred).',
        );
        break;
    }
  } finally {
    await flushKeyAccessLog().catch(() => console.error('The key access log could not be written to the trail.'));
    await handle.close();
  }
});
