import 'server-only';
import { createHmac } from 'node:crypto';
import { getKeyProvider } from './key-provider';

/**
 * Blind indexes (CipherSweet-style): HMAC-SHA256 under a key used for nothing else, over a
 * normalised value, truncated so that each index value is shared by several patients. A match
 * is a candidate only; the data access layer decrypts candidates and checks the real value.
 *
 * Bits are sized for up to ~100k patients (CipherSweet's rule: coincidences between 2 and
 * sqrt(rows)): MRN 16 bits (~1.5 patients per bucket at 100k, so little to learn from a
 * bucket); date of birth and last name 12 bits (4,096 buckets); last-name prefix (first three
 * letters) 8 bits (256 buckets: a prefix search leaks only which of 256 groups a name is in).
 */
export const blindIndexBits = {
  mrn: 16,
  dob: 12,
  last_name: 12,
  last_name_prefix: 8,
} as const;
export type BlindIndexKind = keyof typeof blindIndexBits;

export const LAST_NAME_PREFIX_LENGTH = 3;

/** Case-, accent- and punctuation-insensitive form of a name. */
export function normaliseName(value: string): string {
  return value
    .normalize('NFKD')
    .replace(/\p{Diacritic}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
}

export function normaliseMrn(value: string): string {
  return value.toUpperCase().replace(/[^A-Z0-9]/g, '');
}

function normalise(kind: BlindIndexKind, value: string): string {
  switch (kind) {
    case 'mrn':
      return normaliseMrn(value);
    case 'dob':
      return value.trim();
    case 'last_name':
      return normaliseName(value);
    case 'last_name_prefix':
      return normaliseName(value).slice(0, LAST_NAME_PREFIX_LENGTH);
  }
}

export function blindIndex(kind: BlindIndexKind, value: string, key = getKeyProvider().blindIndexKey()): string {
  const mac = createHmac('sha256', key).update(`${kind}\u0000${normalise(kind, value)}`).digest();
  const bits = blindIndexBits[kind];
  const word = mac.readUInt32BE(0) >>> (32 - bits);
  return word.toString(16).padStart(Math.ceil(bits / 4), '0');
}
