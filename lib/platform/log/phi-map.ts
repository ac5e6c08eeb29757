import 'server-only';
import {
  allergies,
  breakGlassGrants,
  drafts,
  chartPages,
  encounters,
  medications,
  nursingNotes,
  patients,
  problems,
  progressNotes,
  recordingChunks,
  vitals,
} from '@/db/schema';
import {
  allergyBody,
  demographicsBody,
  encounterBody,
  insuranceBody,
  medicationBody,
  noteBody,
  problemBody,
  vitalsBody,
} from '@/lib/domain/chart/sections';

/**
 * The PHI map: for every table that holds patient data, which columns are sealed PHI (and the
 * shape sealed in them) and which are plain on purpose. The encryption layer seals exactly the
 * `phi` columns, log redaction hides every field name they contain, and a test fails when a
 * column of these tables is in neither list.
 */
export const phiMap = {
  patients: {
    table: patients,
    phi: { sealed_demographics: demographicsBody, sealed_insurance: insuranceBody },
    plain: ['id', 'mrn_index', 'dob_index', 'last_name_index', 'last_name_prefix_index', 'version', 'created_at', 'updated_at'],
  },
  /** Each page seals many entries of one section: entry id -> body of that section's shape. */
  chart_pages: { table: chartPages, phi: { sealed_entries: null }, plain: ['patient_id', 'section', 'page_no', 'version', 'updated_at'] },
  // An entry's body lives on a page; `sealed_body` is the pre-page column, emptied by migration.
  allergies: { table: allergies, phi: { sealed_body: allergyBody }, plain: sectionPlain() },
  medications: { table: medications, phi: { sealed_body: medicationBody }, plain: sectionPlain() },
  problems: { table: problems, phi: { sealed_body: problemBody }, plain: sectionPlain() },
  vitals: { table: vitals, phi: { sealed_body: vitalsBody }, plain: sectionPlain() },
  progress_notes: { table: progressNotes, phi: { sealed_body: noteBody }, plain: sectionPlain() },
  nursing_notes: { table: nursingNotes, phi: { sealed_body: noteBody }, plain: sectionPlain() },
  encounters: { table: encounters, phi: { sealed_body: encounterBody }, plain: [...sectionPlain(), 'billing_status'] },
  break_glass_grants: {
    table: breakGlassGrants,
    // Both free texts: the clinician's justification and the privacy officer's review comment.
    phi: { sealed_justification: null, sealed_review_comment: null },
    plain: [
      // `grantedAt` in db/schema.ts is stored in a column named created_at.
      'id', 'user_id', 'patient_id', 'session_id', 'reason_code', 'created_at', 'expires_at', 'ended_at',
      'ended_reason', 'review_status', 'reviewer_id', 'reviewed_at',
      // A keyed MAC over the grant's window and review (lib/platform/integrity): no PHI in it.
      'auth_mac',
    ],
  },
  drafts: {
    table: drafts,
    // What a clinician was typing: free text about the patient.
    phi: { sealed_text: null },
    plain: ['id', 'user_id', 'patient_id', 'form', 'saved_at', 'expires_at'],
  },
  recording_chunks: {
    table: recordingChunks,
    // A video visit's media, a MediaRecorder chunk per row.
    phi: { sealed_chunk: null },
    plain: ['recording_id', 'idx', 'bytes'],
  },
} as const;

function sectionPlain() {
  return ['id', 'patient_id', 'page_no', 'version', 'created_by', 'created_at', 'updated_at'] as const;
}

/** Every field name that can carry PHI, for redaction of logs and error details. */
export const phiFieldNames: ReadonlySet<string> = new Set([
  ...Object.values(phiMap).flatMap((entry) =>
    Object.entries(entry.phi).flatMap(([column, shape]) => [column, ...(shape ? Object.keys(shape.shape) : [])]),
  ),
  'address', 'line1', 'city', 'postalCode', 'justification', 'text', 'note', 'password', 'code', 'totp', 'secret',
  // Reviewers' free text (break-glass verdicts, incident decisions) may name a patient.
  'comment', 'reviewComment', 'resolutionComment',
]);
