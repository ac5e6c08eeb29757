import type { Instrumentation } from 'next';

/**
 * Server start-up: every console line goes through PHI redaction (lib/platform/log), access
 * monitoring is on before the first request is audited, and alerts a stopped process left
 * undelivered (say, the webhook was down) are sent now rather than with the next notice.
 * `next build` may load this file too: nothing before the phase check opens the database.
 *
 * Both hooks test the literal `process.env.NEXT_RUNTIME`, the only environment read in product
 * code outside lib/platform/env.ts: Next replaces it when bundling, which leaves everything after the test
 * (the database included) out of the edge bundle; a call such as env() would pull it all in.
 */
export async function register() {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  const { env } = await import('./lib/platform/env');
  const { installConsoleRedaction } = await import('./lib/platform/log/console');
  const { log } = await import('./lib/platform/log');
  installConsoleRedaction();
  log.info({ pid: process.pid, node: process.version }, 'Server started');
  const { registerMonitoring } = await import('./lib/features/monitor');
  registerMonitoring();
  if (env().NEXT_PHASE === 'phase-production-build') return;
  const { kickAlertDelivery } = await import('./lib/features/notify');
  // In the background: start-up never waits for a receiver, and a failure only logs and retries.
  kickAlertDelivery();
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
