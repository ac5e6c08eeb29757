/**
 * Vigil's data model. PHI lives only in `sealed_*` text columns, which hold AES-256-GCM
 * envelopes made by lib/platform/crypto; everything else is plain on purpose (ids, system timestamps,
 * versions, blind indexes) so it can be indexed. lib/platform/log/phi-map classifies every column of the
 * patient tables and a test fails when a new one is left unclassified.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  inet,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const id = () => uuid('id').primaryKey().default(sql`gen_random_uuid()`);
const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const createdAt = () => at('created_at').notNull().defaultNow();

// ---------------------------------------------------------------- people and sessions

export const users = pgTable('users', {
  id: id(),
  email: text('email').notNull().unique(),
  displayName: text('display_name').notNull(),
  passwordHash: text('password_hash').notNull(),
  /** TOTP secret sealed with the system key (lib/platform/crypto); null until enrolled. */
  sealedTotpSecret: text('sealed_totp_secret'),
  totpEnabledAt: at('totp_enabled_at'),
  /** Last accepted TOTP time step, so a code cannot be replayed. */
  totpLastStep: bigint('totp_last_step', { mode: 'number' }),
  disabledAt: at('disabled_at'),
  disabledReason: text('disabled_reason'),
  failedLogins: integer('failed_logins').notNull().default(0),
  lockedUntil: at('locked_until'),
  passwordChangedAt: at('password_changed_at'),
  createdBy: uuid('created_by'),
  createdAt: createdAt(),
  /**
   * The hospital identity provider's account this one is linked to (issuer and subject, fixed at
   * the first SSO sign-in, lib/features/auth/sso.ts), and the groups it last asserted, which the
   * role-mapping editor's self-escalation rule reads.
   */
  oidcIssuer: text('oidc_issuer'),
  oidcSubject: text('oidc_subject'),
  oidcGroups: jsonb('oidc_groups').$type<string[]>(),
  /** Keyed MAC of the row's security-relevant columns (lib/platform/integrity/authorization-macs.ts); null only before the upgrade step wrote it. */
  authMac: text('auth_mac'),
}, (t) => [uniqueIndex('users_oidc_identity_idx').on(t.oidcIssuer, t.oidcSubject)]);

export const recoveryCodes = pgTable(
  'recovery_codes',
  {
    id: id(),
    userId: uuid('user_id').notNull().references(() => users.id),
    codeHash: text('code_hash').notNull(),
    usedAt: at('used_at'),
    createdAt: createdAt(),
  },
  (t) => [index('recovery_codes_user_idx').on(t.userId)],
);

export const roles = pgTable('roles', {
  name: text('name').primaryKey(),
  description: text('description').notNull().default(''),
  /** Permission patterns by category, e.g. { ehr_read: ["patient.*"] } (lib/domain/access). */
  permissions: jsonb('permissions').$type<Record<string, string[]>>().notNull(),
  builtIn: boolean('built_in').notNull().default(false),
  updatedAt: at('updated_at').notNull().defaultNow(),
  updatedBy: uuid('updated_by'),
});

export const userRoles = pgTable(
  'user_roles',
  {
    userId: uuid('user_id').notNull().references(() => users.id),
    roleName: text('role_name').notNull().references(() => roles.name),
    grantedBy: uuid('granted_by'),
    grantedAt: createdAt(),
    /** Keyed MAC of the row's security-relevant columns (lib/platform/integrity/authorization-macs.ts); null only before the upgrade step wrote it. */
    authMac: text('auth_mac'),
  },
  (t) => [primaryKey({ columns: [t.userId, t.roleName] })],
);

/** Which Vigil role each value of the identity provider's groups claim grants (lib/features/admin/sso-mappings.ts). */
export const ssoRoleMappings = pgTable(
  'sso_role_mappings',
  {
    claimValue: text('claim_value').notNull(),
    roleName: text('role_name').notNull().references(() => roles.name),
    createdBy: uuid('created_by'),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.claimValue, t.roleName] })],
);

export const sessions = pgTable(
  'sessions',
  {
    id: id(),
    userId: uuid('user_id').notNull().references(() => users.id),
    createdAt: createdAt(),
    lastSeenAt: at('last_seen_at').notNull().defaultNow(),
    expiresAt: at('expires_at').notNull(),
    revokedAt: at('revoked_at'),
    revokedReason: text('revoked_reason'),
    /** Last time the user re-entered a password or code (sensitive actions need a fresh one). */
    reauthenticatedAt: at('reauthenticated_at'),
    /** Last time the user proved their second factor (a code or recovery code, never the password): changing a factor needs it. */
    factorVerifiedAt: at('factor_verified_at'),
    ip: text('ip'),
    userAgent: text('user_agent'),
    /** password | totp | recovery_code | sso | sso_mfa (the IdP asserted MFA) | sso_totp. */
    signInMethod: text('sign_in_method').notNull().default('password'),
    /** Keyed MAC of the row's security-relevant columns (lib/platform/integrity/authorization-macs.ts); null only before the upgrade step wrote it. */
    authMac: text('auth_mac'),
  },
  (t) => [index('sessions_user_idx').on(t.userId)],
);

/** Failed and successful sign-in attempts, for per-IP throttling that survives restarts. */
export const loginAttempts = pgTable(
  'login_attempts',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    ip: text('ip').notNull(),
    userId: uuid('user_id'),
    succeeded: boolean('succeeded').notNull(),
    attemptedAt: createdAt(),
  },
  (t) => [index('login_attempts_ip_idx').on(t.ip, t.attemptedAt)],
);

// ---------------------------------------------------------------- patients and chart sections

export const patients = pgTable(
  'patients',
  {
    id: id(),
    /** Blind indexes (truncated HMAC, lib/platform/crypto/blind-index): search without plaintext. */
    mrnIndex: text('mrn_index').notNull(),
    dobIndex: text('dob_index').notNull(),
    lastNameIndex: text('last_name_index').notNull(),
    lastNamePrefixIndex: text('last_name_prefix_index').notNull(),
    sealedDemographics: text('sealed_demographics').notNull(),
    sealedInsurance: text('sealed_insurance').notNull(),
    version: integer('version').notNull().default(1),
    createdAt: createdAt(),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('patients_mrn_idx').on(t.mrnIndex),
    index('patients_dob_idx').on(t.dobIndex),
    index('patients_last_name_idx').on(t.lastNameIndex),
    index('patients_last_name_prefix_idx').on(t.lastNamePrefixIndex),
  ],
);

/**
 * The entries of a chart section, sealed together a page at a time: one envelope per page of up
 * to a few dozen entries (lib/features/records/pages), not one per entry, because each envelope costs a
 * fixed cipher set-up that dwarfs a short entry. `sealed_entries` maps entry id -> body.
 */
export const chartPages = pgTable(
  'chart_pages',
  {
    patientId: uuid('patient_id').notNull().references(() => patients.id),
    /** A chart section with entries (allergies, vitals, ...). */
    section: text('section').notNull(),
    pageNo: integer('page_no').notNull(),
    /** Moves on with every re-seal and is bound into the envelope, so an older ciphertext of the page does not pass for the current one. 0: sealed before versions. */
    version: integer('version').notNull().default(0),
    sealedEntries: text('sealed_entries').notNull(),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.patientId, t.section, t.pageNo] })],
);

/**
 * One per patient and section with pages: every page's current version and entry count, sealed
 * with the patient's key (lib/features/records/pages), so a rolled-back page or a deleted entry
 * row is seen, not silently read.
 */
export const chartSectionHeads = pgTable(
  'chart_section_heads',
  {
    patientId: uuid('patient_id').notNull().references(() => patients.id),
    section: text('section').notNull(),
    sealedHead: text('sealed_head').notNull(),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.patientId, t.section] })],
);

/**
 * One table per chart section: an entry's identity, version (optimistic lock) and times, and the
 * page of `chart_pages` that holds its sealed body.
 */
/**
 * Before pages, each entry sealed its own body here. `npm run db:migrate` repacks such rows into
 * pages and empties the column (lib/ops/repack); a later migration will drop it.
 */
const legacySealedBody = () => text('sealed_body');

function chartSectionTable<const T extends string>(name: T) {
  return pgTable(
    name,
    {
      id: id(),
      patientId: uuid('patient_id').notNull().references(() => patients.id),
      pageNo: integer('page_no'),
      legacySealedBody: legacySealedBody(),
      version: integer('version').notNull().default(1),
      createdBy: uuid('created_by'),
      createdAt: createdAt(),
      updatedAt: at('updated_at').notNull().defaultNow(),
    },
    (t) => [index(`${name}_patient_idx`).on(t.patientId, t.createdAt)],
  );
}

export const allergies = chartSectionTable('allergies');
export const medications = chartSectionTable('medications');
export const problems = chartSectionTable('problems');
export const vitals = chartSectionTable('vitals');
export const progressNotes = chartSectionTable('progress_notes');
export const nursingNotes = chartSectionTable('nursing_notes');

export const encounters = pgTable(
  'encounters',
  {
    id: id(),
    patientId: uuid('patient_id').notNull().references(() => patients.id),
    pageNo: integer('page_no'),
    legacySealedBody: legacySealedBody(),
    /** Work-queue state for billing staff; reveals nothing clinical on its own. */
    billingStatus: text('billing_status').notNull().default('unbilled'),
    version: integer('version').notNull().default(1),
    createdBy: uuid('created_by'),
    createdAt: createdAt(),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (t) => [index('encounters_patient_idx').on(t.patientId, t.createdAt)],
);

// ---------------------------------------------------------------- keys

export const patientKeys = pgTable('patient_keys', {
  patientId: uuid('patient_id').primaryKey(),
  /** The patient's data key wrapped (AES-256-GCM) by master key `master_key_version`. */
  wrappedKey: text('wrapped_key'),
  masterKeyVersion: integer('master_key_version').notNull(),
  createdAt: createdAt(),
  rotatedAt: at('rotated_at'),
  /** Set when the key is destroyed: every sealed value of the patient is then unreadable. */
  shreddedAt: at('shredded_at'),
});

/** Progress of a key rotation, so a killed run resumes where it stopped. */
export const keyRotations = pgTable('key_rotations', {
  id: id(),
  targetVersion: integer('target_version').notNull(),
  startedAt: createdAt(),
  finishedAt: at('finished_at'),
  rewrapped: integer('rewrapped').notNull().default(0),
});

// ---------------------------------------------------------------- access relationships

export const careTeam = pgTable(
  'care_team',
  {
    id: id(),
    patientId: uuid('patient_id').notNull().references(() => patients.id),
    userId: uuid('user_id').notNull().references(() => users.id),
    /** attending | consulting | nursing | billing */
    relationship: text('relationship').notNull(),
    fromAt: at('from_at').notNull().defaultNow(),
    untilAt: at('until_at'),
    assignedBy: uuid('assigned_by'),
    /** Keyed MAC of the row's security-relevant columns (lib/platform/integrity/authorization-macs.ts); null only before the upgrade step wrote it. */
    authMac: text('auth_mac'),
  },
  (t) => [
    index('care_team_user_idx').on(t.userId, t.patientId),
    index('care_team_patient_idx').on(t.patientId),
  ],
);

export const breakGlassGrants = pgTable(
  'break_glass_grants',
  {
    id: id(),
    userId: uuid('user_id').notNull().references(() => users.id),
    patientId: uuid('patient_id').notNull().references(() => patients.id),
    sessionId: uuid('session_id'),
    reasonCode: text('reason_code').notNull(),
    /** Free-text justification sealed with the patient's data key. */
    sealedJustification: text('sealed_justification').notNull(),
    grantedAt: createdAt(),
    expiresAt: at('expires_at').notNull(),
    endedAt: at('ended_at'),
    endedReason: text('ended_reason'),
    /** pending | appropriate | referred */
    reviewStatus: text('review_status').notNull().default('pending'),
    reviewerId: uuid('reviewer_id'),
    /** The reviewer's free-text comment, sealed with the patient's data key: it may name PHI. */
    sealedReviewComment: text('sealed_review_comment'),
    reviewedAt: at('reviewed_at'),
    /** Keyed MAC of the row's security-relevant columns (lib/platform/integrity/authorization-macs.ts); null only before the upgrade step wrote it. */
    authMac: text('auth_mac'),
  },
  (t) => [
    index('break_glass_user_idx').on(t.userId, t.patientId, t.expiresAt),
    index('break_glass_review_idx').on(t.reviewStatus, t.grantedAt),
  ],
);

// ---------------------------------------------------------------- audit and monitoring

export const auditLog = pgTable(
  'audit_log',
  {
    /** Global id in roughly commit order (a sequence: gaps where a transaction rolled back). */
    seq: bigint('seq', { mode: 'number' }).primaryKey(),
    /** Which hash chain the entry belongs to, and its position there (1, 2, 3, … with no gaps). */
    chain: integer('chain').notNull().default(0),
    chainSeq: bigint('chain_seq', { mode: 'number' }).notNull(),
    logId: uuid('log_id').notNull().unique(),
    userId: uuid('user_id'),
    actionType: text('action_type').notNull(),
    resourceType: text('resource_type').notNull(),
    resourceId: text('resource_id'),
    patientId: uuid('patient_id'),
    occurredAt: at('occurred_at').notNull(),
    ip: inet('ip'),
    userAgent: text('user_agent'),
    outcome: text('outcome').notNull(),
    breakGlassGrantId: uuid('break_glass_grant_id'),
    /** PHI-free facts (sections shown, counts, reasons codes). */
    details: jsonb('details').$type<Record<string, unknown>>(),
    sealedBefore: text('sealed_before'),
    sealedAfter: text('sealed_after'),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [
    index('audit_user_idx').on(t.userId, t.occurredAt),
    index('audit_patient_idx').on(t.patientId, t.occurredAt),
    index('audit_time_idx').on(t.occurredAt),
    index('audit_grant_idx').on(t.breakGlassGrantId),
    uniqueIndex('audit_chain_position_idx').on(t.chain, t.chainSeq),
  ],
);

/** Per-user hourly counts kept up to date on every audited access (lib/features/monitor). */
export const accessCounters = pgTable(
  'access_counters',
  {
    userId: uuid('user_id').notNull(),
    hourStart: at('hour_start').notNull(),
    accesses: integer('accesses').notNull().default(0),
    denials: integer('denials').notNull().default(0),
    outsideCareTeam: integer('outside_care_team').notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.hourStart] }),
    // The dashboard's hourly totals across users (the primary key starts with the user).
    index('access_counters_hour_idx').on(t.hourStart),
  ],
);

export const incidents = pgTable(
  'incidents',
  {
    id: id(),
    userId: uuid('user_id').notNull(),
    /** CRITICAL | HIGH | MEDIUM | LOW */
    severity: text('severity').notNull(),
    rule: text('rule').notNull(),
    details: jsonb('details').$type<Record<string, unknown>>().notNull(),
    windowStart: at('window_start').notNull(),
    createdAt: createdAt(),
    /** open | resolved_appropriate | confirmed */
    status: text('status').notNull().default('open'),
    resolvedBy: uuid('resolved_by'),
    resolvedAt: at('resolved_at'),
    /** The decision's free-text comment, sealed with the system key (no patient): it may name PHI. */
    sealedResolutionComment: text('sealed_resolution_comment'),
  },
  (t) => [
    uniqueIndex('incidents_case_idx').on(t.userId, t.rule, t.windowStart),
    index('incidents_status_idx').on(t.status, t.createdAt),
  ],
);

/** In-app notices for a role (PHI-free text; links carry ids only). */
export const notifications = pgTable(
  'notifications',
  {
    id: id(),
    audienceRole: text('audience_role').notNull(),
    kind: text('kind').notNull(),
    message: text('message').notNull(),
    link: text('link'),
    createdAt: createdAt(),
    readAt: at('read_at'),
  },
  (t) => [index('notifications_audience_idx').on(t.audienceRole, t.createdAt)],
);

/** Outbound alerts (webhook/SMTP), retried until delivered; never blocks the request. */
export const alertOutbox = pgTable('alert_outbox', {
  id: id(),
  payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
  attempts: integer('attempts').notNull().default(0),
  nextAttemptAt: at('next_attempt_at').notNull().defaultNow(),
  deliveredAt: at('delivered_at'),
  lastError: text('last_error'),
  createdAt: createdAt(),
});

/** Admin-tunable settings within code-enforced bounds (e.g. break-glass window). */
export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').notNull(),
  updatedBy: uuid('updated_by'),
  updatedAt: at('updated_at').notNull().defaultNow(),
});

/**
 * Privileged administrative changes waiting for a second person (lib/features/admin/requests.ts):
 * what is asked (PHI-free: roles, an email, setting values; a new password only as its argon2id
 * hash), who asked, who must approve, and how it ended.
 */
export const adminRequests = pgTable(
  'admin_requests',
  {
    id: id(),
    /** grant_roles | create_account | reset_password | disable_account | remove_roles | edit_role | monitor_settings */
    kind: text('kind').notNull(),
    targetUserId: uuid('target_user_id'),
    targetRole: text('target_role'),
    change: jsonb('change').$type<Record<string, unknown>>().notNull(),
    passwordHash: text('password_hash'),
    /** admin | privacy_officer: whose approval the change needs. */
    approver: text('approver').notNull(),
    requestedBy: uuid('requested_by').notNull().references(() => users.id),
    requestedAt: at('requested_at').notNull(),
    expiresAt: at('expires_at').notNull(),
    /** pending | approved | refused | withdrawn */
    status: text('status').notNull().default('pending'),
    decidedBy: uuid('decided_by'),
    decidedAt: at('decided_at'),
  },
  (t) => [index('admin_requests_status_idx').on(t.status, t.requestedAt), index('admin_requests_target_idx').on(t.targetUserId)],
);

/** Machine clients (device feeds) allowed to post PHI through the JWE API. */
export const apiClients = pgTable('api_clients', {
  id: id(),
  name: text('name').notNull(),
  secretHash: text('secret_hash').notNull(),
  /** The public JWK (Ed25519 or P-256) the device signs each reading with; null on clients issued before signing, which are refused. */
  signingKey: jsonb('signing_key').$type<Record<string, string>>(),
  createdBy: uuid('created_by'),
  createdAt: createdAt(),
  revokedAt: at('revoked_at'),
});

/** The patients each machine client serves: it may post readings into these charts and no other. */
export const apiClientPatients = pgTable(
  'api_client_patients',
  {
    clientId: uuid('client_id').notNull().references(() => apiClients.id),
    patientId: uuid('patient_id').notNull().references(() => patients.id),
    addedBy: uuid('added_by'),
    addedAt: at('added_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.clientId, t.patientId] })],
);

/** Message ids (`jti`) a client has used, kept until the message's window closes, so no message is accepted twice. */
export const apiClientMessages = pgTable(
  'api_client_messages',
  {
    clientId: uuid('client_id').notNull().references(() => apiClients.id),
    jti: text('jti').notNull(),
    expiresAt: at('expires_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.clientId, t.jti] }), index('api_client_messages_expiry_idx').on(t.expiresAt)],
);

/**
 * SMART on FHIR clients registered by an admin (lib/features/fhir/registry.ts). An `app` signs
 * users in (authorization code with PKCE) to its exact redirect URIs; a `backend` client
 * authenticates with a private_key_jwt against its registered public `jwks`, reads as its own
 * service account (`service_user_id`), and only the patients and chart sections granted here.
 */
export const smartApps = pgTable('smart_apps', {
  clientId: text('client_id').primaryKey(),
  name: text('name').notNull(),
  /** app | backend */
  kind: text('kind').notNull(),
  redirectUris: jsonb('redirect_uris').$type<string[]>().notNull().default([]),
  launchUrl: text('launch_url'),
  /** The scopes the app may be granted at all; a request for more is narrowed to these. */
  scopes: jsonb('scopes').$type<string[]>().notNull().default([]),
  /** Backend clients: the public JWK Set their assertions verify against. No private key ever. */
  jwks: jsonb('jwks').$type<{ keys: Record<string, unknown>[] }>(),
  grantedPatients: jsonb('granted_patients').$type<string[]>().notNull().default([]),
  grantedSections: jsonb('granted_sections').$type<string[]>().notNull().default([]),
  serviceUserId: uuid('service_user_id').references(() => users.id),
  createdBy: uuid('created_by'),
  createdAt: createdAt(),
  revokedAt: at('revoked_at'),
});

/**
 * What the SMART authorization server (oidc-provider) keeps between requests, one row per stored
 * object: interactions, grants, authorization codes, refresh tokens, client assertion ids seen.
 * Shared by every instance; `grant_id` lets a grant's tokens be ended together, `uid` finds a
 * sign-in's interaction, and `consumed_at` marks a code or refresh token used once.
 */
export const oidcRecords = pgTable(
  'oidc_records',
  {
    model: text('model').notNull(),
    id: text('id').notNull(),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    grantId: text('grant_id'),
    uid: text('uid'),
    expiresAt: at('expires_at'),
    consumedAt: at('consumed_at'),
  },
  (t) => [
    primaryKey({ columns: [t.model, t.id] }),
    index('oidc_records_grant_idx').on(t.grantId),
    index('oidc_records_uid_idx').on(t.uid),
    index('oidc_records_expires_idx').on(t.expiresAt),
  ],
);

export const chartSectionTables = {
  allergies,
  medications,
  problems,
  vitals,
  progress_notes: progressNotes,
  nursing_notes: nursingNotes,
  encounters,
} as const;

/**
 * A clinician's unsent chart form (a note being written), kept on the server so the idle timeout
 * never costs the text. One per user, patient and form; sealed with the patient's data key, so a
 * crypto-shred erases it with the chart. Not a chart entry: nobody else ever reads it.
 */
export const drafts = pgTable(
  'drafts',
  {
    id: id(),
    userId: uuid('user_id').notNull().references(() => users.id),
    patientId: uuid('patient_id').notNull().references(() => patients.id),
    /** The chart form it belongs to: an entry section's name. */
    form: text('form').notNull(),
    /** The text as typed, sealed with the patient's data key and bound to this row. */
    sealedText: text('sealed_text').notNull(),
    savedAt: at('saved_at').notNull(),
    expiresAt: at('expires_at').notNull(),
  },
  (t) => [uniqueIndex('drafts_owner_idx').on(t.userId, t.patientId, t.form), index('drafts_patient_idx').on(t.patientId)],
);

// ---------------------------------------------------------------- video visits

/**
 * A video visit a clinician started from the chart. The call itself is peer to peer and never
 * passes through the server; these rows hold only who, when, and the patient's answer to the
 * recording question. The patient is no user: after the one-time link is spent, the browser that
 * spent it holds a secret for this visit alone, kept here as a hash.
 */
export const visits = pgTable(
  'visits',
  {
    id: id(),
    patientId: uuid('patient_id').notNull().references(() => patients.id),
    clinicianId: uuid('clinician_id').notNull().references(() => users.id),
    /** The grant the visit was started under, when the clinician is not on the care team. */
    breakGlassGrantId: uuid('break_glass_grant_id'),
    startedAt: at('started_at').notNull(),
    patientJoinedAt: at('patient_joined_at'),
    /** SHA-256 of the joined browser's visit secret (its cookie); null until the link is used. */
    guestSecretHash: text('guest_secret_hash'),
    /** 'given' or 'refused', as the patient answered on the join screen; null until asked. */
    consent: text('consent'),
    consentAt: at('consent_at'),
    endedAt: at('ended_at'),
  },
  (t) => [index('visits_patient_idx').on(t.patientId)],
);

/** One-time join links: only the SHA-256 of the token is kept, so the table cannot be replayed. */
export const visitLinks = pgTable(
  'visit_links',
  {
    id: id(),
    visitId: uuid('visit_id').notNull().references(() => visits.id),
    tokenHash: text('token_hash').notNull(),
    createdAt: at('created_at').notNull(),
    expiresAt: at('expires_at').notNull(),
    usedAt: at('used_at'),
    revokedAt: at('revoked_at'),
  },
  (t) => [uniqueIndex('visit_links_token_idx').on(t.tokenHash), index('visit_links_visit_idx').on(t.visitId)],
);

/** A recording the patient consented to; its media lives only as sealed chunks. */
export const recordings = pgTable(
  'recordings',
  {
    id: id(),
    visitId: uuid('visit_id').notNull().references(() => visits.id),
    patientId: uuid('patient_id').notNull().references(() => patients.id),
    /** The one clinician whose browser may upload its chunks. */
    clinicianId: uuid('clinician_id').notNull().references(() => users.id),
    mimeType: text('mime_type').notNull(),
    startedAt: at('started_at').notNull(),
    /** Set by the chunk marked last; an unfinished recording does not play. */
    finishedAt: at('finished_at'),
    chunkCount: integer('chunk_count').notNull().default(0),
  },
  (t) => [index('recordings_patient_idx').on(t.patientId)],
);

/**
 * The media, a MediaRecorder chunk per row, sealed with the patient's data key; the associated
 * data binds the recording, the index and (on the last chunk) the total, so a chunk swapped,
 * removed, altered or copied from another recording does not open where it now sits.
 */
export const recordingChunks = pgTable(
  'recording_chunks',
  {
    recordingId: uuid('recording_id').notNull().references(() => recordings.id),
    idx: integer('idx').notNull(),
    /** Plaintext length, for range requests; checked against the chunk when it opens. */
    bytes: integer('bytes').notNull(),
    sealedChunk: text('sealed_chunk').notNull(),
  },
  (t) => [primaryKey({ columns: [t.recordingId, t.idx] })],
);

/** Each playback of a recording: the "Viewed by" list (who, role, when, how long). */
export const recordingViews = pgTable(
  'recording_views',
  {
    id: id(),
    recordingId: uuid('recording_id').notNull().references(() => recordings.id),
    userId: uuid('user_id').notNull().references(() => users.id),
    /** Only the session that opened the playback may stream it. */
    sessionId: uuid('session_id').notNull(),
    /** The viewer's roles at the time, comma-separated. */
    roles: text('roles').notNull(),
    openedAt: at('opened_at').notNull(),
    /** How far into the recording the player reported having played. */
    watchedMs: integer('watched_ms').notNull().default(0),
  },
  (t) => [index('recording_views_recording_idx').on(t.recordingId)],
);
