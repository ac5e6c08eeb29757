/**
 * `npm run audit:verify [-- --checkpoint]`: walks the whole audit chain (a page at a time) and
 * prints OK with the count and head hash, or the first broken sequence number and why; exits 1
 * on any failure. When a signed checkpoint exists (VIGIL_AUDIT_CHECKPOINT, default
 * <VIGIL_DATA_DIR>/audit-checkpoint.json) the chain is also held to it, so a truncated tail is
 * caught. `--checkpoint` writes a new checkpoint after a successful walk.
 */
import { parseArgs } from 'node:util';
import { openDatabase, optionsFromEnv, setDatabase } from '@/db/client';
import { checkpointPath } from '@/lib/platform/audit/checkpoint';
import { fullVerification } from '@/lib/features/audit-review/status';
import { main, progressReporter } from './cli';

const { values } = parseArgs({ options: { checkpoint: { type: 'boolean', default: false } } });

await main(async () => {
  const handle = await openDatabase(optionsFromEnv());
  setDatabase(handle);
  try {
    const status = await fullVerification({ db: handle.db, writeCheckpoint: values.checkpoint, onProgress: progressReporter('Verifying audit chain') });
    const { result, checkpoint, written } = status;
    if (status.state === 'checkpoint_invalid') {
      console.log(`FAILED: ${status.summary}`);
      const chain = result!.ok ? `intact (${result!.checked} entries, head ${result!.headHash})` : `broken at seq ${result!.break!.seq} (${result!.break!.reason})`;
      console.log(`Without the checkpoint, the chain is ${chain}.`);
      process.exitCode = 1;
      return;
    }
    if (!result!.ok) {
      const broken = result!.break!;
      console.log(`FAILED: first broken entry is seq ${broken.seq} (${broken.reason}). ${broken.detail}`);
      process.exitCode = 1;
      return;
    }
    console.log(`OK: ${result!.checked} entries, head seq ${result!.headSeq}, head hash ${result!.headHash} (${result!.durationMs} ms)`);
    console.log(checkpoint ? `Held to the checkpoint of ${checkpoint.createdAt} (seq ${checkpoint.seq}).` : `No checkpoint at ${checkpointPath()}: a truncated tail would not be noticed.`);
    if (written) console.log(`Wrote a signed checkpoint at seq ${written.seq} to ${checkpointPath()}.`);
  } finally {
    await handle.close();
  }
});
