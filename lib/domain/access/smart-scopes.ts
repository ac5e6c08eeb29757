import 'server-only';
import { chartPermission } from '@/lib/domain/access/permission-names';
import { hasPermission, type PermissionSet } from '@/lib/domain/access/permissions';
import type { ChartSection } from '@/lib/domain/access/roles';

/**
 * SMART on FHIR scopes mapped onto the role lenses. Each FHIR resource type the API serves is one
 * or more chart sections; a token's scopes can only narrow what the user's role already reads,
 * never widen it, so `decide()` keeps making the one decision (lib/domain/access/policy.ts).
 */
export const fhirResourceSections = {
  Patient: ['demographics'],
  Coverage: ['insurance'],
  AllergyIntolerance: ['allergies'],
  MedicationStatement: ['medications'],
  Condition: ['problems'],
  Observation: ['vitals'],
  DocumentReference: ['progress_notes', 'nursing_notes'],
  Encounter: ['encounters'],
} as const satisfies Record<string, readonly ChartSection[]>;

export type FhirResourceType = keyof typeof fhirResourceSections;
export const fhirResourceTypes = Object.keys(fhirResourceSections) as FhirResourceType[];

export function isFhirResourceType(value: string): value is FhirResourceType {
  return Object.hasOwn(fhirResourceSections, value);
}

/** What a token's scopes grant: resource types for any reachable patient, and for the launch patient only. */
export interface ScopeGrant {
  user: FhirResourceType[];
  patient: FhirResourceType[];
  openid: boolean;
  fhirUser: boolean;
  launchPatient: boolean;
  offlineAccess: boolean;
}

/**
 * The scopes this server grants (per-type forms such as `user/Observation.rs` too); anything else
 * in a request is dropped, never honoured. No EHR launch (`launch`), id tokens (`openid
 * fhirUser`) or refresh tokens (`offline_access`) yet.
 */
export const supportedScopes = [
  'launch/patient',
  'patient/*.read',
  'patient/*.rs',
  'user/*.read',
  'user/*.rs',
] as const;

// v1 `.read` / `.*`, or v2 permission letters in cruds order that include read or search.
const clinicalScope = /^(patient|user)\/([A-Za-z]+|\*)\.(read|\*|c?r?u?d?s?)$/;

export function parseScopes(scope: string): ScopeGrant {
  const grant: ScopeGrant = { user: [], patient: [], openid: false, fhirUser: false, launchPatient: false, offlineAccess: false };
  for (const word of scope.split(/\s+/).filter(Boolean)) {
    if (word === 'openid') grant.openid = true;
    else if (word === 'fhirUser') grant.fhirUser = true;
    else if (word === 'launch/patient') grant.launchPatient = true;
    else if (word === 'offline_access') grant.offlineAccess = true;
    const match = clinicalScope.exec(word);
    if (!match) continue;
    const [, level, type, verbs] = match as unknown as [string, 'patient' | 'user', string, string];
    const reads = verbs === 'read' || verbs === '*' || verbs.includes('r') || verbs.includes('s');
    if (!reads) continue;
    const types = type === '*' ? fhirResourceTypes : isFhirResourceType(type) ? [type] : [];
    for (const t of types) if (!grant[level].includes(t)) grant[level].push(t);
  }
  return grant;
}

/** The scope string of a grant, as the token endpoint answers it (only what was granted). */
export function scopeString(grant: ScopeGrant): string {
  const words: string[] = [];
  if (grant.openid) words.push('openid');
  if (grant.fhirUser) words.push('fhirUser');
  if (grant.launchPatient) words.push('launch/patient');
  if (grant.offlineAccess) words.push('offline_access');
  const typed = (level: 'patient' | 'user') =>
    grant[level].length === fhirResourceTypes.length ? [`${level}/*.rs`] : grant[level].map((t) => `${level}/${t}.rs`);
  return [...words, ...typed('patient'), ...typed('user')].join(' ');
}

/** The resource types a grant opens for one patient: the user-level ones, plus the patient-level ones for the launch patient. */
export function typesFor(grant: Pick<ScopeGrant, 'user' | 'patient'>, patientId: string, launchPatient: string | null): FhirResourceType[] {
  const types = new Set<FhirResourceType>(grant.user);
  if (launchPatient && patientId === launchPatient) for (const t of grant.patient) types.add(t);
  return fhirResourceTypes.filter((t) => types.has(t));
}

/**
 * The role's permissions narrowed to the chart sections of `types`: read only, exact names, no
 * writes, no break-glass, no administration. What the role cannot read stays unreadable.
 */
export function narrowPermissions(permissions: PermissionSet, types: readonly FhirResourceType[]): PermissionSet {
  const sections = new Set<ChartSection>(types.flatMap((t) => fhirResourceSections[t]));
  const ehrRead = [...sections].filter((s) => hasPermission(permissions, 'ehr_read', chartPermission[s])).map((s) => chartPermission[s]);
  return { ehr_read: ehrRead };
}
