import 'server-only';
import type { Viewer } from '@/lib/domain/access/viewer';
import { fail, type Result } from '@/lib/domain/result';
import { DATABASE_UNAVAILABLE_MESSAGE, isDatabaseUnavailable } from '@/lib/platform/database-unavailable';
import type { Operation, OperationError } from '@/lib/pipeline/operation';
import { getViewer, requireViewer } from './current';
import { startedElsewhere } from './request';
import type { GateOptions } from './viewer-state';

/**
 * The only three ways into the server from app/: every server action and route handler is one
 * of these (test/entry-points.test.ts reads app/ and fails on any other export).
 *
 * - `guardedAction`: a server action. Resolves the viewer from the database (a redirect to
 *   sign-in if there is none), hands the raw request to a declared operation (lib/pipeline),
 *   and presents its Result. The action itself decides nothing.
 * - `guardedRoute`: the same for a route handler, answering 401 instead of redirecting.
 * - `publicEntry`: an entry point that comes before there is a viewer (sign-in, sign-out, the
 *   session clock, health, Auth.js's own routes, the public device key, a device feed that
 *   authenticates with its own credential). Each names why it is public.
 */

type Respond<T, E extends string, A extends unknown[], R> = (result: Result<T, OperationError<E>>, ...args: A) => R | Promise<R>;

export function guardedAction<A extends unknown[], T, E extends string, R>(
  operation: Operation<T, E>,
  request: (viewer: Viewer, ...args: A) => unknown,
  respond: Respond<T, E, A, R>,
  options: GateOptions = {},
): (...args: A) => Promise<R> {
  return async (...args: A) => {
    const result = await orUnavailable(async () => {
      const viewer = await requireViewer(options);
      return operation(viewer, request(viewer, ...args));
    });
    return respond(result, ...args);
  };
}

export interface RouteOptions {
  /**
   * A GET that reveals PHI or records an access (the audit export): answered only to the portal's
   * own pages or a URL typed into the browser, never to a navigation or request another site
   * started, which would act under the viewer's name with their (SameSite=Lax) cookie.
   */
  sameSiteOnly?: boolean;
}

export function guardedRoute<T, E extends string>(
  operation: Operation<T, E>,
  request: (request: Request, viewer: Viewer) => unknown,
  respond: Respond<T, E, [Request], Response>,
  unauthenticated: () => Response,
  options: RouteOptions = {},
): (request: Request) => Promise<Response> {
  return async (incoming: Request) => {
    if (options.sameSiteOnly && startedElsewhere(incoming)) {
      return new Response('Open this from Vigil itself.', { status: 403, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
    }
    let viewer: Viewer | null;
    try {
      viewer = await getViewer();
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      return respond(fail('database_unavailable', DATABASE_UNAVAILABLE_MESSAGE), incoming);
    }
    if (!viewer) return unauthenticated();
    return respond(await orUnavailable(() => operation(viewer, request(incoming, viewer))), incoming);
  };
}

/**
 * A write cut off by the database going away (a failover) answers with a plain "try again" in
 * the page, rather than an error page; the transaction was rolled back, or committed whole.
 */
async function orUnavailable<T, E extends string>(work: () => Promise<Result<T, OperationError<E>>>): Promise<Result<T, OperationError<E>>> {
  try {
    return await work();
  } catch (error) {
    if (!isDatabaseUnavailable(error)) throw error;
    return fail('database_unavailable', DATABASE_UNAVAILABLE_MESSAGE);
  }
}

const publicEntries = new Map<string, string>();

/** The public entry points declared in this process, with the reason each is public. */
export function declaredPublicEntries(): ReadonlyMap<string, string> {
  return publicEntries;
}

export function publicEntry<A extends unknown[], R>(name: string, whyPublic: string, handler: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  publicEntries.set(name, whyPublic);
  return (...args: A) => handler(...args);
}
