import 'server-only';
import type { Bundle, BundleEntry, BundleLink, OperationOutcome, Resource } from '@medplum/fhirtypes';

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

const matches = (base: string, resources: Resource[]): BundleEntry[] =>
  resources.map((resource) => ({ fullUrl: `${base}/${resource.resourceType}/${resource.id}`, resource, search: { mode: 'match' } }));

export function searchset(base: string, requestUrl: URL, page: Page<Resource>): Bundle {
  return { resourceType: 'Bundle', type: 'searchset', total: page.total, link: links(requestUrl, page), entry: matches(base, page.items) };
}

/**
 * A searchset paged by keyset: `next` is the request with `_cursor` past the last entry. It has
 * no total, because counting every match is the cost keyset paging exists to avoid.
 */
export function keysetSearchset(base: string, requestUrl: URL, resources: Resource[], next: string | null): Bundle {
  const at = (cursor: string | null) => {
    const url = new URL(requestUrl);
    url.searchParams.delete('_cursor');
    if (cursor) url.searchParams.set('_cursor', cursor);
    return url.toString();
  };
  const link: BundleLink[] = [{ relation: 'self', url: requestUrl.toString() }, { relation: 'first', url: at(null) }];
  if (next) link.push({ relation: 'next', url: at(next) });
  return { resourceType: 'Bundle', type: 'searchset', link, entry: matches(base, resources) };
}

export type OutcomeCode = 'not-found' | 'forbidden' | 'invalid' | 'login' | 'not-supported' | 'security' | 'exception';

/** A refusal as FHIR says it: a fixed, PHI-free sentence. */
export function outcome(code: OutcomeCode, diagnostics: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] };
}
