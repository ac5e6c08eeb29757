import 'server-only';
import type { Viewer } from '@/lib/domain/access/viewer';
import type { Result } from '@/lib/domain/result';
import type { Operation, OperationError } from '@/lib/pipeline/operation';
import { getViewer, requireViewer } from './current';
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
    const viewer = await requireViewer(options);
    return respond(await operation(viewer, request(viewer, ...args)), ...args);
  };
}

export function guardedRoute<T, E extends string>(
  operation: Operation<T, E>,
  request: (request: Request, viewer: Viewer) => unknown,
  respond: Respond<T, E, [Request], Response>,
  unauthenticated: () => Response,
): (request: Request) => Promise<Response> {
  return async (incoming: Request) => {
    const viewer = await getViewer();
    if (!viewer) return unauthenticated();
    return respond(await operation(viewer, request(incoming, viewer)), incoming);
  };
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
