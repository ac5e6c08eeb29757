import 'server-only';
import { z } from 'zod';
import type { FhirResourceType } from '@/lib/domain/access/smart-scopes';
import type { Mapped } from '@/lib/features/fhir/resources';

/**
 * The search parameters the API supports, per resource type, parsed with zod. A parameter the
 * server does not support is refused, not ignored: ignoring it would answer a narrower question
 * with a broader result set (the CapabilityStatement lists exactly these).
 */
export const searchParameters = {
  common: ['_id', '_count', '_offset'],
  Patient: ['identifier', 'birthdate', 'family'],
  compartment: ['patient'],
  Observation: ['category', 'code', 'date'],
  Encounter: ['date'],
  DocumentReference: ['date', 'type'],
  Condition: ['code'],
  AllergyIntolerance: [],
  MedicationStatement: [],
  Coverage: [],
} as const;

export function allowedParameters(type: FhirResourceType): string[] {
  const own = (searchParameters as Record<string, readonly string[]>)[type] ?? [];
  return [...searchParameters.common, ...(type === 'Patient' ? [] : searchParameters.compartment), ...own];
}

const datePrefix = /^(eq|ne|gt|lt|ge|le)?(\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?)$/;
export const MAX_COUNT = 100;
const idText = z.string().regex(/^[A-Za-z0-9.-]{1,64}$/);

export interface DateFilter {
  prefix: 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le';
  from: number;
  to: number;
}

export interface SearchFilters {
  ids: string[] | null;
  patient: string | null;
  identifier: { system: string | null; value: string } | null;
  birthdate: DateFilter[];
  family: string | null;
  category: string | null;
  code: { system: string | null; value: string } | null;
  date: DateFilter[];
  count: number;
  offset: number;
}

/** A date or date-time as the interval its precision covers, in epoch ms [from, to). */
function interval(text: string): { from: number; to: number } | null {
  if (/T/.test(text)) {
    const at = Date.parse(/Z|[+-]\d{2}:\d{2}$/.test(text) ? text : `${text}Z`);
    return Number.isNaN(at) ? null : { from: at, to: at + 1 };
  }
  const [y, m, d] = text.split('-').map(Number) as [number, number | undefined, number | undefined];
  const from = Date.UTC(y, (m ?? 1) - 1, d ?? 1);
  const to = d !== undefined ? Date.UTC(y, m! - 1, d + 1) : m !== undefined ? Date.UTC(y, m, 1) : Date.UTC(y + 1, 0, 1);
  return Number.isNaN(from) ? null : { from, to };
}

/** One `date`-type value with its prefix, as the interval it covers; null when it is no date. */
export function dateFilter(raw: string): DateFilter | null {
  const match = datePrefix.exec(raw);
  if (!match) return null;
  const range = interval(match[2]!);
  return range ? { prefix: (match[1] as DateFilter['prefix']) ?? 'eq', ...range } : null;
}

export function dateMatches(filters: DateFilter[], value: string | null): boolean {
  if (filters.length === 0) return true;
  if (!value) return false;
  const range = interval(value);
  if (!range) return false;
  const at = range.from;
  return filters.every((f) => {
    switch (f.prefix) {
      case 'eq':
        return at >= f.from && at < f.to;
      case 'ne':
        return at < f.from || at >= f.to;
      case 'gt':
        return at >= f.to;
      case 'lt':
        return at < f.from;
      case 'ge':
        return at >= f.from;
      case 'le':
        return at < f.to;
    }
  });
}

const token = (raw: string) => {
  const bar = raw.indexOf('|');
  return bar < 0 ? { system: null, value: raw } : { system: raw.slice(0, bar) || null, value: raw.slice(bar + 1) };
};

export type ParsedSearch = { ok: true; filters: SearchFilters } | { ok: false; message: string };

/** Parses a query string for one resource type; refusal messages name the parameter, never the value. */
export function parseSearch(type: FhirResourceType, params: URLSearchParams): ParsedSearch {
  const allowed = new Set(allowedParameters(type));
  const bad = (name: string): ParsedSearch => ({ ok: false, message: `The search parameter ${name} is not supported or not valid here.` });
  const filters: SearchFilters = { ids: null, patient: null, identifier: null, birthdate: [], family: null, category: null, code: null, date: [], count: 20, offset: 0 };
  for (const [rawName, value] of params) {
    const name = rawName.split(':')[0]!;
    if (!allowed.has(name) || rawName.includes(':')) return bad(/^[A-Za-z_-]{1,40}$/.test(name) ? name : 'given');
    if (value.length > 200) return bad(name);
    switch (name) {
      case '_id': {
        const ids = value.split(',');
        if (!ids.every((id) => idText.safeParse(id).success)) return bad(name);
        filters.ids = ids;
        break;
      }
      case '_count': {
        const n = z.coerce.number().int().min(1).max(MAX_COUNT).safeParse(value);
        if (!n.success) return bad(name);
        filters.count = n.data;
        break;
      }
      case '_offset': {
        const n = z.coerce.number().int().min(0).max(1_000_000).safeParse(value);
        if (!n.success) return bad(name);
        filters.offset = n.data;
        break;
      }
      case 'patient': {
        const id = value.replace(/^Patient\//, '');
        if (!idText.safeParse(id).success) return bad(name);
        filters.patient = id;
        break;
      }
      case 'identifier':
        filters.identifier = token(value);
        if (!filters.identifier.value) return bad(name);
        break;
      case 'family':
        if (!value.trim()) return bad(name);
        filters.family = value.trim();
        break;
      case 'category':
        filters.category = token(value).value;
        break;
      case 'code':
      case 'type':
        filters.code = token(value);
        break;
      case 'birthdate':
      case 'date': {
        const f = dateFilter(value);
        if (!f) return bad(name);
        (name === 'date' ? filters.date : filters.birthdate).push(f);
        break;
      }
    }
  }
  return { ok: true, filters };
}

interface Coded {
  coding?: { system?: string; code?: string }[];
}
const hasCode = (concepts: (Coded | undefined)[], want: { system: string | null; value: string }) =>
  concepts.some((c) => c?.coding?.some((k) => k.code === want.value && (!want.system || k.system === want.system)));

/** The compartment filters (everything but the patient, which authorization already chose). */
export function matchesFilters(m: Mapped, f: SearchFilters): boolean {
  const r = m.resource;
  if (f.ids && !f.ids.includes(r.id!)) return false;
  if (!dateMatches(f.date, m.date)) return false;
  if (f.category) {
    const categories = r.resourceType === 'Observation' ? r.category : [];
    if (!categories?.some((c) => c.coding?.some((k) => k.code === f.category))) return false;
  }
  if (f.code) {
    const concepts: (Coded | undefined)[] =
      r.resourceType === 'Observation' || r.resourceType === 'Condition' ? [r.code] : r.resourceType === 'DocumentReference' ? [r.type] : [];
    if (!hasCode(concepts, f.code)) return false;
  }
  return true;
}
