import 'server-only';
import { DecryptionError, openSystemField, sealSystemField, systemDigest } from '@/lib/platform/crypto';

/**
 * The comment a decision was recorded with. A reviewer may name a patient in it, so it is sealed
 * with the system key (an incident concerns a user, not one patient), bound to the incident.
 */
export type ResolutionComment =
  | { status: 'shown'; text: string }
  /** Would not open: damaged, moved from another case, or not sealed yet by the upgrade step. */
  | { status: 'unavailable' };

const COMMENT_TABLE = 'incidents';
const COMMENT_COLUMN = 'sealed_resolution_comment';
const COMMENT_DIGEST = 'incidents.resolution_comment';

export function sealResolutionComment(incidentId: string, comment: string): string {
  return sealSystemField(COMMENT_TABLE, COMMENT_COLUMN, incidentId, comment);
}

/** Null when the case has no comment (still open). */
export function openResolutionComment(incidentId: string, sealed: string | null): ResolutionComment | null {
  if (sealed === null) return null;
  try {
    return { status: 'shown', text: openSystemField(COMMENT_TABLE, COMMENT_COLUMN, incidentId, sealed) };
  } catch (error) {
    if (error instanceof DecryptionError) return { status: 'unavailable' };
    throw error;
  }
}

/**
 * The comment stays out of the log (free text); a keyed digest makes a later edit detectable
 * without letting anyone who reads the log confirm a guess at the text.
 */
export function resolutionCommentDigest(comment: string): string {
  return systemDigest(COMMENT_DIGEST, comment);
}
