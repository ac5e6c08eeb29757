import 'server-only';
import { now as clockNow } from '@/lib/platform/clock';
import { channelsFor, deliveryConfigFromEnv } from './channels';
import { deliverDueAlerts } from './deliver';
import { retryPolicy } from './retry-policy';

/**
 * When alerts are sent: one worker per process, kicked after a notice commits and at start-up,
 * then on timers while work is pending. It never runs on a request's path.
 */

interface WorkerState {
  running: Promise<void> | null;
  again: boolean;
  timer: ReturnType<typeof setTimeout> | null;
}
const globalForWorker = globalThis as unknown as { vigilAlertWorker?: WorkerState };
const worker = (globalForWorker.vigilAlertWorker ??= { running: null, again: false, timer: null });

/**
 * Starts a delivery pass in the background and returns at once; never throws. Called after a
 * notice commits and at server start. The worker then re-arms a timer for the next due row, or
 * for an idle sweep (rows another instance claimed and never finished). Without a configured
 * channel it does nothing, not even open the database.
 */
export function kickAlertDelivery(): void {
  if (worker.running) {
    worker.again = true;
    return;
  }
  worker.running = (async () => {
    do {
      worker.again = false;
      await runOnce();
    } while (worker.again);
  })().finally(() => {
    worker.running = null;
  });
}

async function runOnce(): Promise<void> {
  try {
    const config = deliveryConfigFromEnv();
    const channels = channelsFor(config);
    if (channels.length === 0) return;
    const run = await deliverDueAlerts(channels);
    const dueInMs = run.nextDueAt ? run.nextDueAt.getTime() - clockNow().getTime() : Infinity;
    schedule(Math.min(dueInMs, retryPolicy.idleSweepMs));
  } catch (error) {
    // Nothing to tell the clinician; the rows keep their state and the next kick retries.
    console.error('Alert delivery pass failed.', (error as Error)?.name ?? 'Error');
    schedule(retryPolicy.baseDelayMs);
  }
}

function schedule(delayMs: number): void {
  if (worker.timer) clearTimeout(worker.timer);
  worker.timer = setTimeout(() => {
    worker.timer = null;
    kickAlertDelivery();
  }, Math.max(1_000, delayMs));
  worker.timer.unref?.();
}

/** For tests and shutdown: cancel the timer and wait for a pass in flight. */
export async function stopAlertDelivery(): Promise<void> {
  worker.again = false;
  await worker.running;
  if (worker.timer) clearTimeout(worker.timer);
  worker.timer = null;
}
