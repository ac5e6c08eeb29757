import type { Instrumentation } from 'next';

/** Server start-up: every console line goes through PHI redaction (lib/log). */
export async function register() {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  const { installConsoleRedaction } = await import('./lib/log/console');
  const { log } = await import('./lib/log');
  installConsoleRedaction();
  log.info({ pid: process.pid, node: process.version }, 'Server started');
}

/**
 * Every uncaught server error, logged once with its digest (the reference the error page shows
 * the user) and the request's correlation id, never its message or query string.
 */
export const onRequestError: Instrumentation.onRequestError = async (error, request, context) => {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  const { log, safePath } = await import('./lib/log');
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
