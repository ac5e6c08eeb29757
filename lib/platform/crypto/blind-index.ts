import 'server-only';
import { createHmac } from 'node:crypto';
import { getKeyProvider } from '@/lib/platform/crypto/key-provider';

/**
 * Blind indexes (CipherSweet-style): HMAC-SHA256 under a key used for nothing else, over a
 * normalised value, truncated so that each index value is shared by several patients. A match
 * is a candidate only; the data access layer decrypts candidates and checks the real value.
 *
 * Sizes follow CipherSweet's planner: the indexes on one field together should leave between
 * 2 and sqrt(R) patients per combination of values (R / 2^(sum of bits)). Sized for 10k to 1M
 * patients, every field sums to 12 bits: 2.4 patients per value at 10k, 24 at 100k, 244 at 1M.
 * - MRN 12 bits: an MRN is unique, so with more bits an index value would single a patient out
 *   (16 bits left 86% of 10k seeded patients alone in their bucket).
 * - Date of birth 12 bits (4,096 buckets over ~35k possible dates).
 * - Last name 8 bits plus its 3-letter prefix 4 bits: both describe the same field, so their
 *   bits add up. A prefix search decrypts about 1/16 of the viewer's own patients (the search
 *   runs within the viewer's care team; outside it only the exact emergency lookup
 *   runs, by MRN or by last name and date of birth together, 20 bits), the price of leaking little. Frequency
 *   analysis of surnames stays possible in principle (it is for any equality index); coarse
 *   buckets put many names in each, which blurs it.
 * Changing a size or the normalisation changes every stored value: re-index (or re-seed).
 */
export const blindIndexBits = {
  mrn: 12,
  dob: 12,
  last_name: 8,
  last_name_prefix: 4,
} as const;
export type BlindIndexKind = keyof typeof blindIndexBits;

export const LAST_NAME_PREFIX_LENGTH = 3;

/** Letters that Unicode does not decompose into a base letter plus an accent. */
const transliterations: Record<string, string> = { ø: 'o', æ: 'ae', œ: 'oe', ß: 'ss', đ: 'd', ð: 'd', þ: 'th', ł: 'l', ı: 'i', ħ: 'h', ŧ: 't' };

/** Case-, accent- and punctuation-insensitive form of a name: "Sørensen" and "sorensen" agree. */
export function normaliseName(value: string): string {
  return value
    .toLowerCase()
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[øæœßđðþłıħŧ]/g, (letter) => transliterations[letter] ?? '')
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
