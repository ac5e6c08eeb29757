import 'server-only';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { StoreLookups } from '@/lib/features/fhir/oidc-store';

/**
 * What one request to the authorization server carries into oidc-provider's hooks, which are
 * called with the provider's own context: who is calling, and what the trail should say about it.
 */
export interface OAuthCaller {
  ip: string | null;
  userAgent: string | null;
}

export interface OAuthRequestScope {
  caller: OAuthCaller;
  fhirBase: string;
  lookups: StoreLookups;
  /** A refusal reason a hook knew better than the error it threw. */
  refusal: string | null;
  /** The launch patient of the token being issued, answered beside it (SMART's `patient`). */
  patient: string | null;
}

export const requestScope = new AsyncLocalStorage<OAuthRequestScope>();

export function currentRequest(): OAuthRequestScope {
  const scope = requestScope.getStore();
  if (!scope) throw new Error('An OAuth hook ran outside an OAuth request.');
  return scope;
}
