import 'server-only';
import { z } from 'zod';

/**
 * What Vigil reads from a hospital identity provider's ID token once Auth.js has verified it
 * (signature, issuer, audience, expiry, nonce): who the person is, which groups the IdP puts them
 * in, and whether the sign-in used more than one factor. Pure, so the rules are tested without
 * an identity provider.
 */

/** Bounds on what an ID token may bring in: a token listing thousands of groups is refused, not truncated. */
export const MAX_GROUPS = 200;
const MAX_GROUP_LENGTH = 256;

/**
 * RFC 8176 `amr` values. `mfa` says so outright (Entra ID, Okta); otherwise a sign-in counts as
 * multi-factor when it combines something known with something held or something one is.
 * ADFS writes its own URI for the same fact.
 */
const MULTI_FACTOR = new Set(['mfa', 'http://schemas.microsoft.com/claims/multipleauthn']);
const KNOWLEDGE = new Set(['pwd', 'pin', 'kba']);
const POSSESSION_OR_INHERENCE = new Set(['otp', 'hwk', 'swk', 'sc', 'sms', 'tel', 'fpt', 'face', 'iris', 'retina', 'vbm', 'pop']);

export interface MfaEvidence {
  amr?: unknown;
  acr?: unknown;
}

/** Whether the IdP asserted a multi-factor sign-in: through `amr`, or an `acr` the hospital says means MFA. */
export function assertsMultiFactor(claims: MfaEvidence, mfaAcrValues: readonly string[]): boolean {
  const amr = Array.isArray(claims.amr) ? claims.amr.filter((v): v is string => typeof v === 'string') : [];
  if (amr.some((v) => MULTI_FACTOR.has(v))) return true;
  if (amr.some((v) => KNOWLEDGE.has(v)) && amr.some((v) => POSSESSION_OR_INHERENCE.has(v))) return true;
  return typeof claims.acr === 'string' && mfaAcrValues.includes(claims.acr);
}

const groupValue = z.string().min(1).max(MAX_GROUP_LENGTH);

/** The claim's values as a list (a single string counts as one group); undefined when it cannot be read. */
export function groupsFrom(claims: Record<string, unknown>, claimName: string): string[] | undefined {
  const raw = claims[claimName];
  if (raw === undefined || raw === null) return [];
  const list = z.array(groupValue).max(MAX_GROUPS).safeParse(typeof raw === 'string' ? [raw] : raw);
  return list.success ? [...new Set(list.data)].sort() : undefined;
}

export interface RoleMapping {
  claimValue: string;
  roleName: string;
}

/** The Vigil roles a person's groups map to, sorted; none means the person may not sign in. */
export function rolesForGroups(mappings: readonly RoleMapping[], groups: readonly string[]): string[] {
  const held = new Set(groups);
  return [...new Set(mappings.filter((m) => held.has(m.claimValue)).map((m) => m.roleName))].sort();
}

/** A group name as an admin types it into the mapping form. */
export const claimValueSchema = z
  .string({ error: 'Enter the group exactly as the identity provider sends it.' })
  .trim()
  .min(1, 'Enter the group exactly as the identity provider sends it.')
  .max(MAX_GROUP_LENGTH, `Use at most ${MAX_GROUP_LENGTH} characters.`);
