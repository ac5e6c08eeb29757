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
const HEADER_BYTES = 1 + NONCE_BYTES;

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

/**
 * Nonces come from the CSPRNG in blocks: one randomBytes call costs about as much as the
 * cipher itself on a short field. A block is used front to back and never rewritten (a refill
 * is a new buffer), so no nonce is handed out twice.
 */
const NONCE_BLOCK = NONCE_BYTES * 256;
let nonceBlock = Buffer.alloc(0);
let nonceOffset = 0;

function freshNonce(): Buffer {
  if (nonceOffset + NONCE_BYTES > nonceBlock.length) {
    nonceBlock = randomBytes(NONCE_BLOCK);
    nonceOffset = 0;
  }
  const nonce = nonceBlock.subarray(nonceOffset, nonceOffset + NONCE_BYTES);
  nonceOffset += NONCE_BYTES;
  return nonce;
}

function associatedData(version: number, context: string): Buffer {
  return Buffer.from(`vigil:${version}:${context}`, 'utf8');
}

export function sealBytes(key: Buffer, context: string, plaintext: Buffer): string {
  const nonce = freshNonce();
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(ENVELOPE_VERSION, context));
  // GCM is a stream mode: update() returns every byte and final() none, so no concat is needed.
  const body = cipher.update(plaintext);
  cipher.final();
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length + TAG_BYTES);
  out[0] = ENVELOPE_VERSION;
  nonce.copy(out, 1);
  body.copy(out, HEADER_BYTES);
  cipher.getAuthTag().copy(out, HEADER_BYTES + body.length);
  return out.toString('base64url');
}

export function openBytes(key: Buffer, context: string, sealed: string): Buffer {
  const raw = Buffer.from(sealed, 'base64url');
  if (raw.length < HEADER_BYTES + TAG_BYTES || raw[0] !== ENVELOPE_VERSION) {
    throw new DecryptionError(context);
  }
  try {
    // authTagLength pins the tag size: without it Node 20 accepts truncated tags.
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(1, HEADER_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData(raw[0], context));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    const plaintext = decipher.update(raw.subarray(HEADER_BYTES, raw.length - TAG_BYTES));
    // final() checks the tag; until it returns, `plaintext` is unauthenticated and never leaves.
    decipher.final();
    return plaintext;
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
  } catch {
    // No cause attached: a JSON syntax error quotes the text it choked on, which is PHI.
    throw new DecryptionError(context);
  }
}

/** Where a sealed value lives; the ciphertext only opens at the same place. */
export function sealContext(table: string, column: string, rowId: string): string {
  return `${table}.${column}.${rowId}`;
}
