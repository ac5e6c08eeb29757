import 'server-only';
import type { Bundle, BundleLink, OperationOutcome, Resource } from '@medplum/fhirtypes';

/** Searchset Bundles with paging links, and the OperationOutcomes every refusal is. */
export interface Page<T> {
  items: T[];
  total: number;
  offset: number;
  count: number;
}

export function pageOf<T>(all: T[], offset: number, count: number): Page<T> {
  return { items: all.slice(offset, offset + count), total: all.length, offset, count };
}

/** `self`, `first`, and `next`/`previous` where they exist, each the request with `_offset` moved. */
function links(requestUrl: URL, page: Page<unknown>): BundleLink[] {
  const at = (offset: number) => {
    const url = new URL(requestUrl);
    url.searchParams.set('_count', String(page.count));
    url.searchParams.set('_offset', String(offset));
    return url.toString();
  };
  const out: BundleLink[] = [{ relation: 'self', url: at(page.offset) }, { relation: 'first', url: at(0) }];
  if (page.offset + page.count < page.total) out.push({ relation: 'next', url: at(page.offset + page.count) });
  if (page.offset > 0) out.push({ relation: 'previous', url: at(Math.max(0, page.offset - page.count)) });
  return out;
}

export function searchset(base: string, requestUrl: URL, page: Page<Resource>): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: page.total,
    link: links(requestUrl, page),
    entry: page.items.map((resource) => ({ fullUrl: `${base}/${resource.resourceType}/${resource.id}`, resource, search: { mode: 'match' } })),
  };
}

export type OutcomeCode = 'not-found' | 'forbidden' | 'invalid' | 'login' | 'not-supported' | 'security' | 'exception';

/** A refusal as FHIR says it: a fixed, PHI-free sentence. */
export function outcome(code: OutcomeCode, diagnostics: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] };
}
