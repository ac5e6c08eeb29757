/** Small helpers shared by the command-line scripts. */
/** Prints a single progress line that rewrites itself on a terminal, and plain lines otherwise. */
export function progressReporter(label: string) {
  const started = Date.now();
  let lastPrinted = 0;
  return (done: number, total: number) => {
    const nowMs = Date.now();
    if (done < total && nowMs - lastPrinted < 1000) return;
    lastPrinted = nowMs;
    const pct = total ? Math.floor((done / total) * 100) : 100;
    const elapsed = ((nowMs - started) / 1000).toFixed(1);
    const line = `${label}: ${done}/${total} (${pct}%) ${elapsed}s`;
    if (process.stderr.isTTY) process.stderr.write(`\r${line}${done >= total ? '\n' : ''}`);
    else process.stderr.write(`${line}\n`);
  };
}

export async function main(run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    // Scripts print the error's message only: stack traces could carry values from PHI rows.
    console.error(`Error: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
