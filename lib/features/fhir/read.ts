import 'server-only';
import { eq, inArray } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable } from '@/db/client';
import { patients } from '@/db/schema';
import { chartPermission } from '@/lib/domain/access/permission-names';
import { decide } from '@/lib/domain/access/policy';
import type { ChartSection } from '@/lib/domain/access/roles';
import { backendReadable, fhirResourceSections, fhirResourceTypes, typesFor, userResourceTypes, type FhirResourceType } from '@/lib/domain/access/smart-scopes';
import { auditActions } from '@/lib/domain/audit/actions';
import type { Demographics } from '@/lib/domain/chart/sections';
import { isUuid } from '@/lib/domain/ids';
import { fail, ok, type Result } from '@/lib/domain/result';
import { DecryptionError, getPatientCipher, getPatientCiphers, normaliseMrn, normaliseName } from '@/lib/platform/crypto';
import { operation, type Verdict } from '@/lib/pipeline/operation';
import { loadRelationship, reachablePatientIds } from '@/lib/pipeline/relationship';
import { entrySections, readChart, type EntrySection } from '@/lib/features/records';
import { chartResources, MRN_SYSTEM, vitalSigns, type ChartResource } from '@/lib/features/fhir/resources';
import { dateMatches, matchesFilters, type SearchFilters } from '@/lib/features/fhir/search';

/**
 * The FHIR reads, as guarded operations with the portal's own rules: each resource type is its
 * chart sections, `decide()` asks the role lens, `loadRelationship` the care team or this
 * session's break-glass grant, and the token's scopes narrow (never widen) both. Unknown ids and
 * charts out of reach are one answer, `not_found`, so ids cannot be probed through the API either.
 */
export const fhirNotFound = 'No resource with that id is available to you.';

const grantSchema = z.object({
  user: z.array(z.enum(userResourceTypes)),
  patient: z.array(z.enum(fhirResourceTypes)),
  system: z.array(z.enum(fhirResourceTypes)),
  /** A backend client's grant from its registration: these patients, these chart sections. */
  backend: z.object({ patients: z.array(z.string()), sections: z.array(z.string()) }).nullable(),
  /** The patient chosen at launch; patient-level scopes reach this patient only. */
  launchPatient: z.string().nullable(),
  /** The SMART app the token was issued to, for the trail. */
  client: z.string().max(100),
});
export type TokenGrant = z.infer<typeof grantSchema>;

const filtersSchema = z.custom<SearchFilters>((v) => typeof v === 'object' && v !== null);

const compartmentInput = z.object({
  grant: grantSchema,
  interaction: z.enum(['read', 'search', 'everything']),
  resourceType: z.enum(fhirResourceTypes),
  /** read: the resource's id; search and everything: the patient's. */
  id: z.string().max(80),
  filters: filtersSchema,
});
export type CompartmentRequest = z.infer<typeof compartmentInput>;

export interface FhirPage {
  resources: ChartResource[];
  total: number;
}

interface Owner {
  patientId: string;
  /** The one section an instance read names (a progress note, not notes in general). */
  section: ChartSection | null;
}

const tableOf = (section: EntrySection) => entrySections[section].table;

/** Which patient (and section) a resource id belongs to, from plain columns: nothing is decrypted. */
async function ownerOf(q: Queryable, type: FhirResourceType, id: string): Promise<Owner | null> {
  const sections: EntrySection[] = (fhirResourceSections[type] as readonly ChartSection[]).filter((s): s is EntrySection => s in entrySections);
  if (type === 'Patient' || type === 'Coverage') {
    if (!isUuid(id)) return null;
    const [row] = await q.select({ id: patients.id }).from(patients).where(eq(patients.id, id)).limit(1);
    return row ? { patientId: row.id, section: null } : null;
  }
  // An Observation is one vital sign of a reading: `<entry id>-<sign>`.
  const dash = id.lastIndexOf('-');
  const entryId = type === 'Observation' ? (Object.hasOwn(vitalSigns, id.slice(dash + 1)) ? id.slice(0, dash) : '') : id;
  if (!isUuid(entryId)) return null;
  for (const section of sections) {
    const table = tableOf(section);
    const [row] = await q.select({ patientId: table.patientId }).from(table).where(eq(table.id, entryId)).limit(1);
    if (row) return { patientId: row.patientId, section };
  }
  return null;
}

const sortKey = (r: ChartResource) => r.resourceType;

/** Read, search within one patient, and $everything: one chart, audited as one `fhir.read`. */
export const readCompartment = operation({
  name: 'fhir.compartment.read',
  action: auditActions.fhir.read,
  resourceType: 'patient',
  deniedMessage: fhirNotFound,
  input: compartmentInput,
  invalid: () => fail('invalid', 'The request could not be read.'),
  authorize: async ({ tx, viewer, at, input }): Promise<Verdict<{ patientId: string; types: FhirResourceType[]; readable: ChartSection[]; grantId: string | null }, 'not_found'>> => {
    const refuse = (reason: string, patientId: string | null = null) => ({
      allowed: false as const,
      reason,
      patientId,
      resourceId: patientId,
      details: { interaction: input.interaction, resourceType: input.resourceType, client: input.grant.client },
      answer: fail('not_found' as const, fhirNotFound),
    });
    const owner = input.interaction === 'read' ? await ownerOf(tx, input.resourceType, input.id) : await ownerOf(tx, 'Patient', input.id);
    if (!owner) return refuse('not_found');
    const { patientId } = owner;
    const { backend } = input.grant;
    const scoped = backend ? input.grant.system : typesFor(input.grant, patientId, input.grant.launchPatient);
    const types = input.interaction === 'everything' ? scoped : scoped.filter((t) => t === input.resourceType);
    if (types.length === 0) return refuse('outside_scope', patientId);
    const sections = owner.section ? [owner.section] : types.flatMap((t) => [...fhirResourceSections[t]] as ChartSection[]);
    if (backend) {
      const readable = backendReadable(backend, patientId, sections);
      return readable.length ? { allowed: true, facts: { patientId, types, readable, grantId: null } } : refuse('not_granted', patientId);
    }
    const relationship = await loadRelationship(tx, viewer, patientId, at);
    const decisions = sections.map((s) => ({ s, d: decide(viewer, relationship, 'read', s) }));
    const readable = decisions.filter((x) => x.d.allowed).map((x) => x.s);
    if (readable.length === 0) return refuse(decisions.some((x) => !x.d.allowed && x.d.reason === 'no_relationship') ? 'no_relationship' : 'no_permission', patientId);
    // The grant is named whenever a section opened through it, also beside a narrower care-team row.
    const grantId = decisions.some((x) => x.d.allowed && x.d.via === 'break_glass') ? relationship.breakGlassGrantId : null;
    return { allowed: true, facts: { patientId, types, readable, grantId } };
  },
  run: async ({ tx, input, facts, audit }): Promise<Result<FhirPage, 'not_found'>> => {
    const { patientId, types, readable, grantId } = facts;
    const { cipher } = await getPatientCipher(tx, patientId);
    const view = await readChart(tx, patientId, readable, cipher);
    let mapped = chartResources(view, types);
    if (input.interaction === 'read') mapped = mapped.filter((m) => m.resource.id === input.id);
    else mapped = mapped.filter((m) => matchesFilters(m, input.filters));
    mapped.sort((a, b) => sortKey(a.resource).localeCompare(sortKey(b.resource)) || (b.date ?? '').localeCompare(a.date ?? '') || a.resource.id!.localeCompare(b.resource.id!));
    const { offset, count } = input.interaction === 'read' ? { offset: 0, count: 1 } : input.filters;
    const shown = mapped.slice(offset, offset + count).map((m) => m.resource);
    await audit({
      resourceId: patientId,
      patientId,
      breakGlassGrantId: grantId,
      details: {
        interaction: input.interaction,
        resourceTypes: types,
        sections: readable,
        returned: shown.map((r) => `${r.resourceType}/${r.id}`),
        total: mapped.length,
        client: input.grant.client,
      },
    });
    if (input.interaction === 'read' && shown.length === 0) return fail('not_found', fhirNotFound);
    return ok({ resources: shown, total: mapped.length });
  },
});

const patientSearchInput = z.object({ grant: grantSchema, filters: filtersSchema });

export interface PatientMatch {
  id: string;
  demographics: Demographics;
}

function patientMatches(d: Demographics, id: string, f: SearchFilters): boolean {
  if (f.ids && !f.ids.includes(id)) return false;
  if (f.identifier) {
    if (f.identifier.system && f.identifier.system !== MRN_SYSTEM) return false;
    if (normaliseMrn(d.mrn) !== normaliseMrn(f.identifier.value)) return false;
  }
  if (f.family && !normaliseName(d.familyName).startsWith(normaliseName(f.family))) return false;
  return dateMatches(f.birthdate, d.dateOfBirth);
}

/**
 * `GET /Patient?…`: only among the patients the viewer is tied to now, exactly as the portal's
 * list, so a search outside those relationships finds nothing. Audited like a page of results.
 */
export const searchPatients = operation({
  name: 'fhir.patient.search',
  action: auditActions.fhir.search,
  resourceType: 'patient',
  permission: { category: 'ehr_read', name: chartPermission.demographics },
  deniedMessage: 'You do not have access to patient search.',
  input: patientSearchInput,
  invalid: () => fail('invalid', 'The request could not be read.'),
  run: async ({ tx, viewer, input, at, audit }): Promise<Result<{ matches: PatientMatch[]; total: number }>> => {
    const { grant, filters } = input;
    // A backend client finds exactly the patients granted it; a person those they are tied to now.
    const inScope = grant.backend
      ? grant.system.includes('Patient') ? grant.backend.patients.filter((id) => backendReadable(grant.backend!, id, ['demographics']).length > 0) : []
      : (await reachablePatientIds(tx, viewer, at)).all.filter((id) => typesFor(grant, id, grant.launchPatient).includes('Patient'));
    const rows = inScope.length ? await tx.select({ id: patients.id, sealed: patients.sealedDemographics }).from(patients).where(inArray(patients.id, inScope)) : [];
    const { ciphers } = await getPatientCiphers(tx, rows.map((r) => r.id));
    const found: PatientMatch[] = [];
    for (const row of rows) {
      const cipher = ciphers.get(row.id);
      if (!cipher) continue;
      try {
        const d = cipher.open<Demographics>('patients', 'sealed_demographics', row.id, row.sealed);
        if (patientMatches(d, row.id, filters)) found.push({ id: row.id, demographics: d });
      } catch (error) {
        if (!(error instanceof DecryptionError)) throw error;
      }
    }
    found.sort((a, b) => a.demographics.familyName.localeCompare(b.demographics.familyName) || a.demographics.givenName.localeCompare(b.demographics.givenName) || a.id.localeCompare(b.id));
    const shown = found.slice(filters.offset, filters.offset + filters.count);
    await audit({
      details: {
        searchedBy: Object.entries({ _id: filters.ids, identifier: filters.identifier, family: filters.family, birthdate: filters.birthdate.length ? 1 : null })
          .filter(([, v]) => v)
          .map(([k]) => k),
        results: found.length,
        shown: shown.map((m) => m.id),
        client: grant.client,
      },
    });
    return ok({ matches: shown, total: found.length });
  },
});
