import 'server-only';
import { auditPermission, chartPermission } from '@/lib/domain/access/permission-names';
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
 * The audit trail as FHIR `AuditEvent`s. It is no chart section: a token reads it only when the
 * user holds the audit permission the portal's audit page asks for, and only at user level
 * (`user/AuditEvent.rs`, or `user/*`), since it is the trail of everyone's use, not one patient's
 * chart. Patient- and system-level scopes never reach it.
 */
export const AUDIT_EVENT = 'AuditEvent';
export const userResourceTypes = [...fhirResourceTypes, AUDIT_EVENT] as const;
export type UserResourceType = FhirResourceType | typeof AUDIT_EVENT;
const typesAt = { user: userResourceTypes, patient: fhirResourceTypes, system: fhirResourceTypes } as const;

/**
 * What a token's scopes grant: resource types for any reachable patient, for the launch patient
 * only, and (backend clients) for the patients an admin granted the client.
 */
export interface ScopeGrant {
  user: UserResourceType[];
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
 * in a request is dropped, never honoured. `openid fhirUser` brings an ID token naming the user's
 * own Practitioner resource.
 */
export const supportedScopes = [
  'openid',
  'fhirUser',
  'launch',
  'launch/patient',
  'offline_access',
  'patient/*.read',
  'patient/*.rs',
  'user/*.read',
  'user/*.rs',
  'user/AuditEvent.read',
  'user/AuditEvent.rs',
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
    const known: readonly UserResourceType[] = typesAt[level];
    const into: UserResourceType[] = grant[level];
    for (const t of type === '*' ? known : known.filter((k) => k === type)) if (!into.includes(t)) into.push(t);
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
    grant[level].length === typesAt[level].length ? [`${level}/*.rs`] : grant[level].map((t) => `${level}/${t}.rs`);
  return [...words, ...typed('patient'), ...typed('user'), ...typed('system')].join(' ');
}

/** The resource types a grant opens for one patient: the user-level ones, plus the patient-level ones for the launch patient. */
export function typesFor(grant: Pick<ScopeGrant, 'user' | 'patient'>, patientId: string, launchPatient: string | null): FhirResourceType[] {
  const types = new Set<UserResourceType>(grant.user);
  if (launchPatient && patientId === launchPatient) for (const t of grant.patient) types.add(t);
  return fhirResourceTypes.filter((t) => types.has(t));
}

/**
 * The role's permissions narrowed to the chart sections of `types`: read only, exact names, no
 * writes, no break-glass, no administration. What the role cannot read stays unreadable. An
 * `AuditEvent` scope keeps the one audit permission the portal's audit search asks for, and only
 * if the role holds it, so the guarded operation makes the portal's decision.
 */
export function narrowPermissions(permissions: PermissionSet, types: readonly UserResourceType[]): PermissionSet {
  const sections = new Set<ChartSection>(types.filter(isFhirResourceType).flatMap((t) => fhirResourceSections[t]));
  const ehrRead = [...sections].filter((s) => hasPermission(permissions, 'ehr_read', chartPermission[s])).map((s) => chartPermission[s]);
  const audit = types.includes(AUDIT_EVENT) && hasPermission(permissions, 'audit', auditPermission.read) ? { audit: [auditPermission.read] } : {};
  return { ehr_read: ehrRead, ...audit };
}

/** A request's scopes cut to what the app is registered for: a scope it was not given is dropped, never honoured. */
export function withinRegistered(requested: ScopeGrant, registered: ScopeGrant): ScopeGrant {
  const keep = <T extends UserResourceType>(wanted: T[], allowed: readonly T[]) => wanted.filter((t) => allowed.includes(t));
  return {
    user: keep(requested.user, registered.user),
    patient: keep(requested.patient, registered.patient),
    system: keep(requested.system, registered.system),
    launch: requested.launch && registered.launch,
    openid: requested.openid && registered.openid,
    // `fhirUser` is a claim of the ID token: without `openid` there is none to carry it.
    fhirUser: requested.openid && registered.openid && requested.fhirUser && registered.fhirUser,
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
