import 'server-only';
import type { ChartSection } from '@/lib/domain/access/roles';

/**
 * Every action the audit trail can record, written down once. recordAudit takes only these
 * names, so a new kind of entry is registered here (with whether it is a PHI access) before it
 * can be written, and call sites say `auditActions.user.disable` instead of a string.
 *
 * `phi` is what access monitoring counts (lib/features/monitor/classify.ts): an entry that
 * showed or changed a patient's data, one per chart, page of results, identity prompt or write.
 * Sign-in, session, admin, break-glass bookkeeping, audit-trail use and the monitor's own
 * entries are not; that last also keeps the monitor from reacting to what it writes itself.
 */
interface ActionDefinition {
  readonly name: string;
  readonly phi: boolean;
  /** One line for people reading the trail. */
  readonly about: string;
}

const action = <const N extends string>(name: N, phi: boolean, about: string) => ({ name, phi, about });

/** The writes of one chart section: an entry added or changed, and a refused write. */
function sectionActions<const S extends ChartSection>(section: S, label: string) {
  return {
    create: action(`${section}.create`, true, `Added ${label}`),
    update: action(`${section}.update`, true, `Changed ${label}`),
    write: action(`${section}.write`, true, `Tried to write ${label} (refused)`),
  };
}

const definitions = {
  auth: {
    login: action('auth.login', false, 'Signed in, or a sign-in attempt was refused'),
    mfa: action('auth.mfa', false, 'A second-factor code at sign-in was refused'),
    logout: action('auth.logout', false, 'Signed out'),
    logoutEverywhere: action('auth.logout_everywhere', false, 'Signed out of every other session'),
    lockout: action('auth.lockout', false, 'Account locked after repeated failed sign-ins'),
    reauthenticate: action('auth.reauthenticate', false, 'Re-entered the password for a sensitive step'),
    mfaEnrol: action('auth.mfa_enrol', false, 'Enrolled an authenticator app'),
    mfaRecoveryCodes: action('auth.mfa_recovery_codes', false, 'Generated new recovery codes'),
    mfaDisable: action('auth.mfa_disable', false, 'Turned off the authenticator app'),
    passwordChange: action('auth.password_change', false, 'Chose a new password'),
  },
  session: {
    timeout: action('session.timeout', false, 'Session ended after the idle limit'),
    expired: action('session.expired', false, 'Session reached its absolute lifetime'),
    revoked: action('session.revoked', false, 'Session ended because the account was disabled'),
  },
  chart: {
    view: action('chart.view', true, 'Opened a patient’s chart'),
    write: action('chart.write', true, 'Tried to write a section that does not exist (refused)'),
  },
  patient: {
    list: action('patient.list', true, 'Saw a page of the patient list'),
    search: action('patient.search', true, 'Saw a page of patient search results'),
    lookup: action('patient.lookup', true, 'Looked up a patient by MRN or id'),
    emergencyLookup: action('patient.emergency_lookup', true, 'Looked up patients outside the care team by exact MRN, or last name and date of birth'),
  },
  visit: {
    // The call is peer to peer: these entries are its bookkeeping; only a playback shows PHI.
    start: action('visit.start', false, 'Started a video visit from the chart'),
    link: action('visit.link', false, 'Created a one-time join link for a video visit'),
    linkRevoke: action('visit.link_revoke', false, 'Revoked a video visit’s join link'),
    join: action('visit.join', false, 'The patient joined a video visit through its one-time link, or a link was refused'),
    consent: action('visit.consent', false, 'The patient gave or refused consent to record a video visit'),
    signal: action('visit.signal', false, 'A video visit’s call set-up was refused'),
    end: action('visit.end', false, 'Ended a video visit'),
    recordingStart: action('visit.recording_start', false, 'Started recording a video visit, or was refused'),
    recordingChunk: action('visit.recording_chunk', false, 'Uploaded a sealed part of a visit recording, or was refused'),
    recordingFinish: action('visit.recording_finish', false, 'Finished recording a video visit'),
    recordingPlay: action('visit.recording_play', true, 'Played back a video visit recording'),
    recordingViewers: action('visit.recording_viewers', false, 'Opened the list of who viewed a visit recording'),
    list: action('visit.list', false, 'Saw the list of a patient’s video visits on the chart'),
  },
  draft: {
    // A clinician's own unsent text, seen by nobody else: audited, but neither a chart write nor a disclosure.
    save: action('draft.save', false, 'Saved an unsent chart form as a draft'),
    discard: action('draft.discard', false, 'Discarded a draft'),
    offer: action('draft.offer', false, 'Was offered back their own draft on reopening a chart'),
  },
  demographics: sectionActions('demographics', 'demographics'),
  insurance: sectionActions('insurance', 'insurance'),
  allergies: sectionActions('allergies', 'an allergy'),
  medications: sectionActions('medications', 'a medication'),
  problems: sectionActions('problems', 'a problem'),
  vitals: {
    ...sectionActions('vitals', 'vital signs'),
    // A device has no user to watch: monitoring counts people's accesses.
    deviceCreate: action('vitals.device_create', false, 'A device sent vital signs'),
  },
  progress_notes: sectionActions('progress_notes', 'a progress note'),
  nursing_notes: sectionActions('nursing_notes', 'a nursing note'),
  encounters: {
    ...sectionActions('encounters', 'an encounter'),
    billingStatus: action('encounters.billing_status', true, 'Changed the billing status of an encounter'),
  },
  breakGlass: {
    request: action('break_glass.request', false, 'Asked for emergency access (refused)'),
    grant: action('break_glass.grant', false, 'Was granted emergency access to a patient'),
    end: action('break_glass.end', false, 'Ended emergency access'),
    identityView: action('break_glass.identity_view', true, 'Saw the identity of a patient outside the care team, to ask for emergency access'),
    review: action('break_glass.review', false, 'Reviewed an emergency access grant'),
    // The grant page without them: who, when, why (the category), what was done under it.
    grantView: action('break_glass.grant_view', false, 'Opened an emergency access grant for review (justification and MRN still sealed)'),
    // The justification and MRN are the patient's data: opening them, with a stated reason, is a PHI access, monitored.
    reviewView: action('break_glass.review_view', true, 'Opened an emergency access grant’s justification and MRN, with a stated reason'),
    queueView: action('break_glass.queue_view', false, 'Opened the emergency access review queue'),
  },
  user: {
    view: action('user.view', false, 'Opened user administration'),
    create: action('user.create', false, 'Created a user'),
    roles: action('user.roles', false, 'Changed a user’s roles'),
    disable: action('user.disable', false, 'Disabled an account'),
    enable: action('user.enable', false, 'Re-enabled an account'),
    resetPassword: action('user.reset_password', false, 'Reset a user’s password'),
    firstAdmin: action('user.first_admin', false, 'Created the first administrator (npm run setup)'),
  },
  role: {
    view: action('role.view', false, 'Opened role administration'),
    update: action('role.update', false, 'Changed a role’s permissions'),
  },
  adminRequest: {
    view: action('admin_request.view', false, 'Opened the changes waiting for a second person'),
    file: action('admin_request.file', false, 'Asked for a privileged change, which waits for a second person'),
    approve: action('admin_request.approve', false, 'Approved another person’s privileged change'),
    refuse: action('admin_request.refuse', false, 'Refused another person’s privileged change'),
  },
  ssoMapping: {
    view: action('sso_mapping.view', false, 'Opened the identity provider group mappings'),
    add: action('sso_mapping.add', false, 'Mapped an identity provider group to a role'),
    remove: action('sso_mapping.remove', false, 'Removed an identity provider group’s role mapping'),
  },
  careTeam: {
    view: action('care_team.view', false, 'Opened care team administration'),
    assign: action('care_team.assign', false, 'Put a user on a patient’s care team'),
    unassign: action('care_team.unassign', false, 'Took a user off a patient’s care team'),
  },
  settings: {
    view: action('settings.view', false, 'Opened a settings page'),
    update: action('settings.update', false, 'Changed a setting'),
  },
  notification: {
    // Written only if refused: marking one's own notices read is inbox bookkeeping, not an access.
    read: action('notification.read', false, 'Marked notifications as read'),
  },
  apiClient: {
    view: action('api_client.view', false, 'Opened API client administration'),
    issue: action('api_client.issue', false, 'Issued an API client credential'),
    revoke: action('api_client.revoke', false, 'Revoked an API client credential'),
    scope: action('api_client.scope', false, 'Changed which patients an API client serves'),
  },
  api: {
    phiVitals: action('api.phi.vitals', false, 'A machine request to send vital signs was refused'),
  },
  fhir: {
    read: action('fhir.read', true, 'Read a patient’s FHIR resources through the API'),
    search: action('fhir.search', true, 'Saw a page of FHIR Patient search results through the API'),
    // The user's own Practitioner (name and roles), which an ID token's fhirUser names: no patient's data.
    readSelf: action('fhir.self_read', false, 'Read their own Practitioner resource through the API'),
    // A request refused before there was a viewer (bad, expired or unbound token): no PHI shown.
    refused: action('fhir.refused', false, 'A FHIR API request was refused'),
  },
  smart: {
    authorize: action('smart.authorize', false, 'Authorized a SMART app to act for the user'),
    token: action('smart.token', false, 'A SMART app exchanged a code for a token, or was refused'),
    refresh: action('smart.refresh', false, 'A SMART app used a refresh token, or was refused'),
    revokeToken: action('smart.token_revoke', false, 'A SMART app or its user revoked a token'),
    backendToken: action('smart.backend_token', false, 'A SMART backend client asked for a token with its signed assertion'),
    launch: action('smart.launch', false, 'Launched a SMART app from a patient’s chart'),
    viewApps: action('smart.app_view', false, 'Opened SMART app administration'),
    register: action('smart.app_register', false, 'Registered a SMART app or backend client'),
    revokeApp: action('smart.app_revoke', false, 'Revoked a SMART app or backend client'),
  },
  integrity: {
    // Not a PHI access: the row that failed is treated as absent; the case it opens is the alarm.
    tampered: action('integrity.tampered', false, 'A stored row failed its integrity check and was treated as absent'),
    // Once per database: the trail then remembers that rows without a MAC are no longer legacy rows.
    backfilled: action('integrity.backfilled', false, 'The upgrade gave the authorization rows stored before MACs theirs'),
  },
  incident: {
    open: action('incident.open', false, 'Monitoring opened an incident'),
    escalate: action('incident.escalate', false, 'Monitoring raised an open incident’s severity'),
    resolve: action('incident.resolve', false, 'Resolved an incident'),
    list: action('incident.list', false, 'Opened the incident queue'),
    view: action('incident.view', false, 'Opened an incident'),
    dashboard: action('incident.dashboard', false, 'Opened the oversight dashboard (counts only)'),
  },
  audit: {
    search: action('audit.search', false, 'Searched the audit trail'),
    entryView: action('audit.entry.view', false, 'Opened one audit entry'),
    // The recorded before/after of a chart write is the patient's data: opening it is a PHI access, monitored.
    stateReveal: action('audit.state.reveal', true, 'Opened the recorded values of a change'),
    verify: action('audit.verify', false, 'Checked the audit chain'),
    verifyResult: action('audit.verify.result', false, 'The result of an audit chain check'),
    checkpoint: action('audit.checkpoint', false, 'A signed checkpoint of the chain was written automatically'),
    checkpointAlarm: action('audit.checkpoint.alarm', false, 'The automatic check found the trail cut, rolled back or its checkpoint missing'),
    export: action('audit.export', false, 'Exported audit entries'),
  },
  disclosures: {
    report: action('disclosures.report', false, 'Prepared an accounting of disclosures'),
  },
  key: {
    rotate: action('key.rotate', false, 'Re-wrapped a batch of patient keys under the new master key'),
    rotateStart: action('key.rotate.start', false, 'Started a master key rotation'),
    rotateFinish: action('key.rotate.finish', false, 'Finished a master key rotation'),
    retire: action('key.retire', false, 'Retired an old master key'),
    shred: action('key.shred', false, 'Destroyed a patient’s data key (the chart reads as erased)'),
    importSecrets: action('key.import_secrets', false, 'Moved the blind-index and system keys from the key file into the key token'),
    access: action('key.access', false, 'Key store operations (unwraps, wraps, key loads, failures), counted per batch'),
    lifecycleView: action('key.lifecycle_view', false, 'Viewed the master key lifecycle page'),
    reminder: action('key.reminder', false, 'Reminded admins and privacy officers that a master key rotation is due'),
  },
} as const satisfies Record<string, Record<string, ActionDefinition>>;

type Definitions = typeof definitions;

/** Every registered action name. */
export type AuditAction = { [Area in keyof Definitions]: Definitions[Area][keyof Definitions[Area]] extends { name: infer N } ? N : never }[keyof Definitions];

/** The names by area, e.g. `auditActions.breakGlass.identityView` is 'break_glass.identity_view'. */
export const auditActions = Object.fromEntries(
  Object.entries(definitions).map(([area, entries]) => [area, Object.fromEntries(Object.entries(entries).map(([key, entry]) => [key, entry.name]))]),
) as { readonly [Area in keyof Definitions]: { readonly [Key in keyof Definitions[Area]]: Definitions[Area][Key] extends { name: infer N } ? N : never } };

export interface AuditActionInfo {
  name: AuditAction;
  phi: boolean;
  about: string;
}

/** Every registered action, in the registry's order (a name defined twice would appear twice). */
export const auditActionList: readonly AuditActionInfo[] = Object.values(definitions).flatMap((entries) => Object.values(entries) as AuditActionInfo[]);
const byName = new Map(auditActionList.map((entry) => [entry.name as string, entry]));

/** Counted by access monitoring. Takes any string: the trail keeps names written long ago. */
export function isPhiAccess(action: string): boolean {
  return byName.get(action)?.phi ?? false;
}

/** The one-line description of an action, or null for a name no longer registered. */
export function describeAction(action: string): string | null {
  return byName.get(action)?.about ?? null;
}

export type SectionVerb = 'create' | 'update' | 'write';

/** The action of a write to a section chosen at run time, e.g. `sectionAction(section, 'create')`. */
export function sectionAction<S extends ChartSection, V extends SectionVerb>(section: S, verb: V): `${S}.${V}` {
  const sectionNames: Record<SectionVerb, string> = auditActions[section];
  return sectionNames[verb] as `${S}.${V}`;
}
