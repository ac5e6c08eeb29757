import type { Instrumentation } from 'next';

/**
 * Server start-up: every console line goes through PHI redaction (lib/platform/log), the
 * start-up checks refuse an unsafe configuration in production mode, access
 * monitoring is on before the first request is audited, alerts a stopped process left
 * undelivered (say, the webhook was down) are sent now rather than with the next notice, and the
 * automatic audit checkpoints start.
 * `next build` may load this file too: nothing before the phase check opens the database.
 *
 * Both hooks test the literal `process.env.NEXT_RUNTIME`, the only environment read in product
 * code outside lib/platform/env.ts: Next replaces it when bundling, which leaves everything after the test
 * (the database included) out of the edge bundle; a call such as env() would pull it all in.
 */
export async function register() {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  // First of all, before anything reads a variable: a configuration that does not parse, or is
  // unsafe in production mode, stops the server here with one sentence per problem.
  const { serverMayStart } = await import('./lib/platform/startup-checks');
  if (!(await serverMayStart())) process.exit(1);
  const { env } = await import('./lib/platform/env');
  const { installConsoleRedaction } = await import('./lib/platform/log/console');
  const { log } = await import('./lib/platform/log');
  installConsoleRedaction();
  log.info({ pid: process.pid, node: process.version }, 'Server started');
  const { registerMonitoring } = await import('./lib/features/monitor');
  registerMonitoring();
  if (env().NEXT_PHASE === 'phase-production-build') return;
  // Key-store use is written to the trail in batches (lib/platform/crypto/key-access-log.ts).
  const { startKeyAccessLog } = await import('./lib/platform/crypto/key-access-flush');
  const { getDb } = await import('./db/client');
  startKeyAccessLog(getDb);
  // Rotation reminders: now and every six hours; each reminder is sent once, whichever process sends it.
  const { remindKeyRotation } = await import('./lib/features/admin/key-reminders');
  const remind = () => void remindKeyRotation().catch((error: unknown) => log.warn({ err: error }, 'Key rotation reminder check failed'));
  remind();
  setInterval(remind, 6 * 3_600_000).unref();
  const { kickAlertDelivery } = await import('./lib/features/notify');
  // In the background: start-up never waits for a receiver, and a failure only logs and retries.
  kickAlertDelivery();
  // Signed checkpoints of the audit trail's head, and the check that its tail is still there.
  const { startAutomaticCheckpoints } = await import('./lib/features/audit-review/checkpointing');
  startAutomaticCheckpoints();
}

/**
 * Every uncaught server error, logged once with its digest (the reference the error page shows
 * the user) and the request's correlation id, never its message or query string.
 */
export const onRequestError: Instrumentation.onRequestError = async (error, request, context) => {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  const { log, safePath } = await import('./lib/platform/log');
  const requestId = request.headers['x-request-id'];
  log.error(
    {
      err: error,
      requestId: typeof requestId === 'string' ? requestId : undefined,
      method: request.method,
      path: safePath(request.path),
      routePath: context.routePath,
      routeType: context.routeType,
    },
    'Request failed',
  );
};
