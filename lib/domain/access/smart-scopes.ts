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

/**
 * What a token's scopes grant: resource types for any reachable patient, for the launch patient
 * only, and (backend clients) for the patients an admin granted the client.
 */
export interface ScopeGrant {
  user: FhirResourceType[];
  patient: FhirResourceType[];
  system: FhirResourceType[];
  /** EHR launch: the app was started from a chart and receives that chart's patient as context. */
  launch: boolean;
  openid: boolean;
  fhirUser: boolean;
  launchPatient: boolean;
  offlineAccess: boolean;
}

/**
 * The scopes this server grants (per-type forms such as `user/Observation.rs` too); anything else
 * in a request is dropped, never honoured. No id tokens (`openid fhirUser`): there is no public
 * signing key to verify them with.
 */
export const supportedScopes = [
  'launch',
  'launch/patient',
  'offline_access',
  'patient/*.read',
  'patient/*.rs',
  'user/*.read',
  'user/*.rs',
  'system/*.read',
  'system/*.rs',
] as const;

// v1 `.read` / `.*`, or v2 permission letters in cruds order that include read or search.
const clinicalScope = /^(patient|user|system)\/([A-Za-z]+|\*)\.(read|\*|c?r?u?d?s?)$/;

export function parseScopes(scope: string): ScopeGrant {
  const grant: ScopeGrant = { user: [], patient: [], system: [], launch: false, openid: false, fhirUser: false, launchPatient: false, offlineAccess: false };
  for (const word of scope.split(/\s+/).filter(Boolean)) {
    if (word === 'openid') grant.openid = true;
    else if (word === 'fhirUser') grant.fhirUser = true;
    else if (word === 'launch/patient') grant.launchPatient = true;
    else if (word === 'launch') grant.launch = true;
    else if (word === 'offline_access') grant.offlineAccess = true;
    const match = clinicalScope.exec(word);
    if (!match) continue;
    const [, level, type, verbs] = match as unknown as [string, 'patient' | 'user' | 'system', string, string];
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
  if (grant.launch) words.push('launch');
  if (grant.launchPatient) words.push('launch/patient');
  if (grant.offlineAccess) words.push('offline_access');
  const typed = (level: 'patient' | 'user' | 'system') =>
    grant[level].length === fhirResourceTypes.length ? [`${level}/*.rs`] : grant[level].map((t) => `${level}/${t}.rs`);
  return [...words, ...typed('patient'), ...typed('user'), ...typed('system')].join(' ');
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

/** A request's scopes cut to what the app is registered for: a scope it was not given is dropped, never honoured. */
export function withinRegistered(requested: ScopeGrant, registered: ScopeGrant): ScopeGrant {
  const keep = (level: 'user' | 'patient' | 'system') => requested[level].filter((t) => registered[level].includes(t));
  return {
    user: keep('user'),
    patient: keep('patient'),
    system: keep('system'),
    launch: requested.launch && registered.launch,
    openid: false,
    fhirUser: false,
    launchPatient: requested.launchPatient && registered.launchPatient,
    offlineAccess: requested.offlineAccess && registered.offlineAccess,
  };
}

/**
 * A backend client's reads of one patient: the chart sections an admin granted the client, for
 * the patients granted it, within its token's `system/*` types. It has no role and no care team,
 * so this grant is its whole policy (it never breaks the glass either).
 */
export function backendReadable(
  granted: { patients: readonly string[]; sections: readonly string[] },
  patientId: string,
  sections: readonly ChartSection[],
): ChartSection[] {
  if (!granted.patients.includes(patientId)) return [];
  return sections.filter((s) => granted.sections.includes(s));
}

/** A backend client's permissions: reading the granted sections of `types`, nothing else (it holds no role). */
export function backendPermissions(grantedSections: readonly string[], types: readonly FhirResourceType[]): PermissionSet {
  const sections = new Set<ChartSection>(types.flatMap((t) => fhirResourceSections[t]));
  return { ehr_read: [...sections].filter((s) => grantedSections.includes(s)).map((s) => chartPermission[s]) };
}
