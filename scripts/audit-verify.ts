/**
 * `npm run audit:verify [-- --checkpoint]`: walks the whole audit chain (a page at a time) and
 * prints OK with the count and the root over every chain's head, or the first broken entry
 * (chain, position and seq) and why; exits 1 on any failure. When a signed checkpoint exists (VIGIL_AUDIT_CHECKPOINT, default
 * <VIGIL_DATA_DIR>/audit-checkpoint.json) the chain is also held to it, so a truncated tail is
 * caught. `--checkpoint` writes a new checkpoint after a successful walk.
 */
import { parseArgs } from 'node:util';
import { openDatabase, optionsFromEnv, setDatabase } from '@/db/client';
import { checkpointPath } from '@/lib/platform/audit/checkpoint';
import type { ChainBreak } from '@/lib/platform/audit/verify';
import { fullVerification } from '@/lib/features/audit-review/status';
import { main, progressReporter } from './cli';

const brokenAt = (broken: ChainBreak) => `entry ${broken.position} of chain ${broken.chain}${broken.seq === null ? '' : ` (seq ${broken.seq})`}`;

const { values } = parseArgs({ options: { checkpoint: { type: 'boolean', default: false } } });

await main(async () => {
  const handle = await openDatabase(optionsFromEnv());
  setDatabase(handle);
  try {
    const status = await fullVerification({ db: handle.db, writeCheckpoint: values.checkpoint, onProgress: progressReporter('Verifying audit chain') });
    const { result, checkpoint, written } = status;
    if (status.state === 'checkpoint_invalid') {
      console.log(`FAILED: ${status.summary}`);
      const chain = result!.ok ? `intact (${result!.checked} entries, root ${result!.root})` : `broken at ${brokenAt(result!.break!)} (${result!.break!.reason})`;
      console.log(`Without the checkpoint, the chain is ${chain}.`);
      process.exitCode = 1;
      return;
    }
    if (!result!.ok) {
      const broken = result!.break!;
      console.log(`FAILED: first broken entry is ${brokenAt(broken)} (${broken.reason}). ${broken.detail}`);
      process.exitCode = 1;
      return;
    }
    const chains = result!.heads.length;
    console.log(`OK: ${result!.checked} entries in ${chains} chain${chains === 1 ? '' : 's'}, head seq ${result!.headSeq}, root ${result!.root} (${result!.durationMs} ms)`);
    console.log(checkpoint ? `Held to the checkpoint of ${checkpoint.createdAt} (seq ${checkpoint.seq}).` : `No checkpoint at ${checkpointPath()}: a truncated tail would not be noticed.`);
    if (written) console.log(`Wrote a signed checkpoint at seq ${written.seq} to ${checkpointPath()}.`);
  } finally {
    await handle.close();
  }
});
