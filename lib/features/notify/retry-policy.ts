/** How alert delivery retries: shared by the channels (timeouts), the pass and the worker. */
export const retryPolicy = {
  baseDelayMs: 30_000,
  maxDelayMs: 3_600_000,
  maxAttempts: 10,
  /**
   * A claimed row is left alone this long, so a crashed worker's rows are picked up again. It
   * must outlast one row's sending (channels × sendDeadlineMs: 2 × 30 s), or a second worker
   * could take the row while the first is still sending it.
   */
  leaseMs: 120_000,
  /** Rows per pass; a pass that stops here leaves the rest due, and the timer runs it again. */
  batchSize: 20,
  /** Connection/response timeout of each channel. */
  timeoutMs: 10_000,
  /** Hard limit on one channel's send, whatever its own timeouts do (SMTP's are per step). */
  sendDeadlineMs: 30_000,
  /** With nothing due sooner, look again this often: rows another instance left behind. */
  idleSweepMs: 300_000,
} as const;

/** Delay before the next try after `attempts` failed tries: 30 s, 1 min, 2 min, … capped at 1 h. */
export function backoffMs(attempts: number): number {
  return Math.min(retryPolicy.baseDelayMs * 2 ** Math.max(0, attempts - 1), retryPolicy.maxDelayMs);
}
