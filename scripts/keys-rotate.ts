/**
 * `npm run keys:rotate [-- --batch-size N] [--retire] [--to-current] [--to pkcs11]`: adds a master key version
 * and re-wraps every data key under it, in batches, while the portal keeps serving. Killed or
 * failed part-way, run it again: it resumes the unfinished rotation. `--retire` then marks the
 * older versions retired once no data key uses them. `--to-current` rotates to the key store's
 * newest version without adding one (for VIGIL_MASTER_KEYS or a KMS, where versions are added
 * outside Vigil). `--to pkcs11` moves from the key file into the HSM (VIGIL_KEY_PROVIDER=pkcs11 with
 * the key file still in place): secrets copied in, every data key re-wrapped in the token, the
 * file's versions retired; resumable like any rotation. PGlite is single-process: stop the
 * portal first, or use PostgreSQL.
 */
import { parseArgs } from 'node:util';
import { openDatabase, optionsFromEnv } from '@/db/client';
import { getKeyProvider } from '@/lib/platform/crypto';
import { flushKeyAccessLog, startKeyAccessLog } from '@/lib/platform/crypto/key-access-flush';
import { DEFAULT_ROTATION_BATCH, rotateMasterKeys } from '@/lib/ops/keys/rotation';
import { main, progressReporter } from './cli';

const { values } = parseArgs({
  options: {
    'batch-size': { type: 'string', default: String(DEFAULT_ROTATION_BATCH) },
    retire: { type: 'boolean', default: false },
    'to-current': { type: 'boolean', default: false },
    to: { type: 'string' },
  },
});

await main(async () => {
  if (values.to !== undefined && values.to !== 'pkcs11') throw new Error('--to takes one value: pkcs11.');
  const toPkcs11 = values.to === 'pkcs11';
  const batchSize = Number(values['batch-size']);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new Error('--batch-size must be a whole number from 1 to 10,000.');
  const handle = await openDatabase(optionsFromEnv());
  startKeyAccessLog(async () => handle.db, 'vigil keys:rotate');
  try {
    const provider = getKeyProvider();
    console.log(`Key store: ${provider.name}; master key versions before: ${provider.versions().join(', ')}.`);
    const result = await rotateMasterKeys(handle.db, {
      batchSize,
      retire: values.retire,
      toCurrent: values['to-current'],
      toPkcs11,
      onProgress: progressReporter('Re-wrapping data keys'),
    });
    console.log(
      `${result.resumed ? 'Resumed and finished' : 'Finished'} rotation to master key version ${result.targetVersion}: ` +
        `${result.rewrapped} data key(s) re-wrapped in ${result.batches} batch(es) by this run, ${result.totalRewrapped} in all.`,
    );
    if (toPkcs11) {
      console.log(`Every data key is now wrapped in the token; key file version(s) retired: ${result.retired.join(', ') || 'none left'}.`);
      console.log('The blind-index and system keys are in the token too: the key file can now be deleted (keep an offline backup until you have checked).');
    }
    if (values.retire) {
      console.log(result.retired.length > 0 ? `Retired version(s): ${result.retired.join(', ')}.` : 'No version needed retiring.');
      if (result.stillReferenced.length > 0) console.log(`Still in use, not retired: ${result.stillReferenced.join(', ')}.`);
    }
  } finally {
    await flushKeyAccessLog().catch(() => console.error('The key access log could not be written to the trail.'));
    await handle.close();
  }
});
