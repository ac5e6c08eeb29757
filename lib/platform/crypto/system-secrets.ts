import 'server-only';
import { createHmac, hkdfSync } from 'node:crypto';
import { openJson, sealContext, sealJson } from '@/lib/platform/crypto/envelope';
import { getKeyProvider } from '@/lib/platform/crypto/key-provider';

/** Seals secrets that belong to a user, not a patient (TOTP secrets), with the system key. */
export function sealUserSecret(userId: string, purpose: string, value: string): string {
  return sealJson(getKeyProvider().systemKey(), `users.${purpose}.${userId}`, value);
}

export function openUserSecret(userId: string, purpose: string, sealed: string): string {
  return openJson<string>(getKeyProvider().systemKey(), `users.${purpose}.${userId}`, sealed);
}

/**
 * Seals free text of a row that concerns no patient (an incident's resolution comment) with the
 * system key, bound to `table.column.row-id` like every patient field.
 */
export function sealSystemField(table: string, column: string, rowId: string, value: string): string {
  return sealJson(getKeyProvider().systemKey(), sealContext(table, column, rowId), value);
}

/** Throws DecryptionError when the value does not open at this place (moved, altered, not sealed). */
export function openSystemField(table: string, column: string, rowId: string, sealed: string): string {
  return openJson<string>(getKeyProvider().systemKey(), sealContext(table, column, rowId), sealed);
}

/**
 * A keyed digest of free text for PHI-free records (audit details): it shows a later change of
 * the text to whoever holds the key, where a plain SHA-256 of a short comment could be confirmed
 * by guessing. The key is derived from the system key for `purpose` alone.
 */
export function systemDigest(purpose: string, text: string): string {
  const key = Buffer.from(hkdfSync('sha256', getKeyProvider().systemKey(), Buffer.alloc(0), `vigil:digest:${purpose}`, 32));
  return createHmac('sha256', key).update(text, 'utf8').digest('hex');
}

/**
 * A 256-bit key for one purpose (signing SMART tokens, sealing authorization codes), derived from
 * the system key: nothing new to store, and rotating the system key invalidates every token.
 */
export function systemSubkey(purpose: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', getKeyProvider().systemKey(), Buffer.alloc(0), `vigil:subkey:${purpose}`, 32));
}
