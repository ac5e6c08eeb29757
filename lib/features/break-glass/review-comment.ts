import 'server-only';
import { DecryptionError, type PatientCipher } from '@/lib/platform/crypto';

/**
 * The privacy officer's comment on a grant, as the review page may show it. A reviewer may name
 * the patient or their condition in it, so it is sealed with the patient's data key, like the
 * justification beside it: crypto-shredding the patient erases it too.
 */
export type ReviewComment =
  | { status: 'shown'; text: string }
  /** The patient's key was shredded: the comment went with it. */
  | { status: 'erased' }
  /** The comment would not open: a damaged key or value, or one the upgrade step has not sealed yet. */
  | { status: 'unavailable' };

const TABLE = 'break_glass_grants';
const COLUMN = 'sealed_review_comment';

export function sealReviewComment(cipher: PatientCipher, grantId: string, comment: string): string {
  return cipher.seal(TABLE, COLUMN, grantId, comment);
}

/**
 * Null while the grant awaits its verdict. `cipher` undefined means the patient was shredded: a
 * verdict's comment then reads as erased, whether it was sealed before the shred or dropped for
 * want of a key (a verdict given, or an old plain comment upgraded, after it).
 */
export function openReviewComment(
  cipher: PatientCipher | undefined,
  grant: { id: string; reviewStatus: string; sealedReviewComment: string | null },
): ReviewComment | null {
  const sealed = grant.sealedReviewComment;
  if (!cipher) return sealed !== null || grant.reviewStatus !== 'pending' ? { status: 'erased' } : null;
  if (sealed === null) return null;
  try {
    return { status: 'shown', text: cipher.open<string>(TABLE, COLUMN, grant.id, sealed) };
  } catch (error) {
    if (error instanceof DecryptionError) return { status: 'unavailable' };
    throw error;
  }
}
