/**
 * The patient's one-time join link. It carries a random token and nothing else (no name, no
 * MRN, no visit id), in the URL's fragment so that it never reaches a server log, a proxy or a
 * Referer. It opens one visit, once, within a short window, and a new link revokes the old.
 */
export const JOIN_LINK_LIFETIME_MS = 15 * 60_000;

/** 32 random bytes, base64url: unguessable, and short enough to read out over the phone. */
export const JOIN_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** The join screen's path; the token follows in the fragment. */
export const JOIN_PATH = '/visit/join';

/** One answer for every refused link, so a link cannot be probed for why. */
export const JOIN_REFUSED_MESSAGE = 'This link cannot be used. It may have been used already, expired or been withdrawn. Ask your clinic for a new one.';

export type JoinLinkRefusal = 'unknown' | 'used' | 'expired' | 'revoked' | 'visit_ended';

export interface JoinLinkState {
  usedAt: Date | null;
  revokedAt: Date | null;
  expiresAt: Date;
  visitEndedAt: Date | null;
}

/** Why a link is refused now (recorded in the trail), or null. */
export function joinLinkRefusal(link: JoinLinkState | null, at: Date): JoinLinkRefusal | null {
  if (!link) return 'unknown';
  if (link.visitEndedAt) return 'visit_ended';
  if (link.revokedAt) return 'revoked';
  if (link.usedAt) return 'used';
  if (link.expiresAt.getTime() <= at.getTime()) return 'expired';
  return null;
}
