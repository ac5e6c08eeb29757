import 'server-only';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * The field envelope: AES-256-GCM with a fresh 96-bit nonce per value and associated data that
 * binds the ciphertext to where it belongs (table.column.row-id). Layout, base64url-encoded:
 * [format version: 1 byte][nonce: 12][ciphertext: n][tag: 16]. The version byte is authenticated
 * too (it is part of the associated data), so a downgrade cannot be forged.
 */
export const ENVELOPE_VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** Raised when a sealed value cannot be opened. Its message never contains the value. */
export class DecryptionError extends Error {
  constructor(
    readonly location: string,
    readonly cause?: unknown,
  ) {
    super(`A protected value could not be opened (${location}).`);
    this.name = 'DecryptionError';
  }
}

function associatedData(version: number, context: string): Buffer {
  return Buffer.from(`vigil:${version}:${context}`, 'utf8');
}

export function sealBytes(key: Buffer, context: string, plaintext: Buffer): string {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(ENVELOPE_VERSION, context));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([
    Buffer.of(ENVELOPE_VERSION),
    nonce,
    body,
    cipher.getAuthTag(),
  ]).toString('base64url');
}

export function openBytes(key: Buffer, context: string, sealed: string): Buffer {
  const raw = Buffer.from(sealed, 'base64url');
  if (raw.length < 1 + NONCE_BYTES + TAG_BYTES || raw[0] !== ENVELOPE_VERSION) {
    throw new DecryptionError(context);
  }
  try {
    const nonce = raw.subarray(1, 1 + NONCE_BYTES);
    const tag = raw.subarray(raw.length - TAG_BYTES);
    const body = raw.subarray(1 + NONCE_BYTES, raw.length - TAG_BYTES);
    // authTagLength pins the tag size: without it Node 20 accepts truncated tags.
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData(raw[0], context));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch (error) {
    throw new DecryptionError(context, error);
  }
}

/** Seals a JSON value: a whole chart row's fields go in one envelope (one cipher set-up). */
export function sealJson(key: Buffer, context: string, value: unknown): string {
  return sealBytes(key, context, Buffer.from(JSON.stringify(value), 'utf8'));
}

export function openJson<T>(key: Buffer, context: string, sealed: string): T {
  const bytes = openBytes(key, context, sealed);
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (error) {
    throw new DecryptionError(context, error);
  }
}

/** Where a sealed value lives; the ciphertext only opens at the same place. */
export function sealContext(table: string, column: string, rowId: string): string {
  return `${table}.${column}.${rowId}`;
}
