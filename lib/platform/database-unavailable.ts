import 'server-only';

/**
 * Errors that mean the database went away under a request, not that the request was wrong: the
 * connection was refused, reset or closed (the primary died), the server is shutting down or
 * still starting, or it accepts no writes (a standby not yet promoted). During a failover these
 * reach requests in flight; the portal reconnects by itself (db/client.ts), so the person is
 * told to try again rather than shown an error page.
 */
const CONNECTION_CODES = new Set([
  // postgres.js's own codes, and the socket errors it passes on
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  // SQLSTATE: admin_shutdown, crash_shutdown, cannot_connect_now, read_only_sql_transaction
  '57P01',
  '57P02',
  '57P03',
  '25006',
]);

/** Whether `error` (or anything in its `cause` chain: drizzle wraps driver errors) is the database going away. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let at = error, depth = 0; at && typeof at === 'object' && depth < 5; at = (at as { cause?: unknown }).cause, depth++) {
    const code = (at as { code?: unknown }).code;
    // SQLSTATE class 08: connection exceptions.
    if (typeof code === 'string' && (CONNECTION_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  }
  return false;
}

/**
 * What the person sees. "May not": a commit the server had made when the connection dropped is
 * kept (the standby has it), so the change could be there although no answer came back.
 */
export const DATABASE_UNAVAILABLE_MESSAGE =
  'The portal lost its connection to the database for a moment. Your change may not have been saved: check, then try again in a moment.';
