import 'server-only';
import { randomBytes } from 'node:crypto';
import { and, eq, inArray, isNotNull, isNull, or } from 'drizzle-orm';
import { inChunks, type Queryable } from '@/db/client';
import { patientKeys } from '@/db/schema';
import { DecryptionError, openBytes, openJson, sealBytes, sealContext, sealJson } from '@/lib/platform/crypto/envelope';
import { noteKeyAccess } from '@/lib/platform/crypto/key-access-log';
import { getKeyProvider } from '@/lib/platform/crypto/key-provider';
import { KeysUnavailableError } from '@/lib/platform/crypto/keys-unavailable';
import { env } from '@/lib/platform/env';
import { plaintextTwin } from '@/lib/platform/plaintext-twin';

/** Seals and opens one patient's values with that patient's data key. */
export interface PatientCipher {
  readonly patientId: string;
  seal(table: string, column: string, rowId: string, value: unknown): string;
  /**
   * Seals a value already serialised as JSON, exactly as `seal` seals the value it parses to
   * (for writers that made the JSON for another use too: the bulk seed sizes pages with it).
   */
  sealText(table: string, column: string, rowId: string, json: string): string;
  open<T>(table: string, column: string, rowId: string, sealed: string): T;
  /** The same for bytes that are not JSON (a recording's media), with no encoding on the way. */
  sealBinary(table: string, column: string, rowId: string, value: Buffer): string;
  openBinary(table: string, column: string, rowId: string, sealed: string): Buffer;
}

function cipherFor(patientId: string, dataKey: Buffer, twin = plaintextTwin()): PatientCipher {
  if (twin) return plainCipher(patientId);
  return {
    patientId,
    seal: (table, column, rowId, value) => sealJson(dataKey, sealContext(table, column, rowId), value),
    sealText: (table, column, rowId, json) => sealBytes(dataKey, sealContext(table, column, rowId), Buffer.from(json, 'utf8')),
    open: <T>(table: string, column: string, rowId: string, sealed: string) =>
      openJson<T>(dataKey, sealContext(table, column, rowId), sealed),
    sealBinary: (table, column, rowId, value) => sealBytes(dataKey, sealContext(table, column, rowId), value),
    openBinary: (table, column, rowId, sealed) => openBytes(dataKey, sealContext(table, column, rowId), sealed),
  };
}

/** The benchmark twin's "cipher" (lib/platform/plaintext-twin.ts): JSON in clear, no key. */
function plainCipher(patientId: string): PatientCipher {
  return {
    patientId,
    seal: (_table, _column, _rowId, value) => JSON.stringify(value),
    sealText: (_table, _column, _rowId, json) => json,
    open: <T>(table: string, column: string, rowId: string, sealed: string) => {
      try {
        return JSON.parse(sealed) as T;
      } catch {
        throw new DecryptionError(sealContext(table, column, rowId));
      }
    },
    sealBinary: (_table, _column, _rowId, value) => value.toString('base64'),
    openBinary: (_table, _column, _rowId, sealed) => Buffer.from(sealed, 'base64'),
  };
}

/**
 * Stands in for a patient whose wrapped data key fails to open (damaged, or copied from another
 * patient): every value reads as unavailable rather than crashing the page, and nothing can be
 * sealed. A missing master key version is a deployment error instead, and throws.
 */
function unavailableCipher(patientId: string): PatientCipher {
  const fail = (table: string, column: string, rowId: string): never => {
    throw new DecryptionError(sealContext(table, column, rowId));
  };
  return { patientId, seal: fail, sealText: fail, open: fail, sealBinary: fail, openBinary: fail };
}

function wrapContext(patientId: string): string {
  return `patient_keys.wrapped_key.${patientId}`;
}

/**
 * Unwrapped data keys are cached in memory only, briefly (VIGIL_KEY_CACHE_SECONDS) and in bounded
 * number, so that a busy chart does not unwrap on every request (with a KMS, an unwrap is a
 * network call). Every cache miss is an unwrap, and is reported to the caller so the audit
 * entry of the access records it. A hit still checks the key's row has not been shredded meanwhile.
 */
const CACHE_MAX = 10_000;
const globalForCache = globalThis as unknown as {
  vigilDataKeys?: Map<string, { key: Buffer; expires: number }>;
};
const cache = (globalForCache.vigilDataKeys ??= new Map());

function cached(patientId: string, now: number): Buffer | undefined {
  const hit = cache.get(patientId);
  if (!hit) return undefined;
  if (hit.expires <= now) {
    cache.delete(patientId);
    return undefined;
  }
  return hit.key;
}

function remember(patientId: string, key: Buffer, now: number): void {
  if (cache.size >= CACHE_MAX) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  cache.set(patientId, { key, expires: now + env().VIGIL_KEY_CACHE_SECONDS * 1000 });
}

export function evictDataKey(patientId?: string): void {
  if (patientId) cache.delete(patientId);
  else cache.clear();
}

/** A new data key for a patient, as the row to insert and a cipher to seal with right away. */
export function newPatientKey(patientId: string): NewPatientKey {
  return patientKeyMaker()(patientId);
}

export interface NewPatientKey {
  row: typeof patientKeys.$inferInsert;
  cipher: PatientCipher;
}

/**
 * Makes new data keys exactly as newPatientKey does (a fresh random key each, wrapped by the
 * current master key, counted in the key access log), for writers of many patients at once (the
 * bulk seed): the key store, its current version and the mode are looked up once, not per
 * patient (reading the environment was a tenth of the seed's sealing time).
 */
export function patientKeyMaker(): (patientId: string) => NewPatientKey {
  const provider = getKeyProvider();
  const version = provider.currentVersion();
  const twin = plaintextTwin();
  return (patientId) => {
    const dataKey = randomBytes(32);
    const wrappedKey = noted('wrap', version, () => provider.wrap(dataKey, wrapContext(patientId), version));
    return { row: { patientId, wrappedKey, masterKeyVersion: version }, cipher: cipherFor(patientId, dataKey, twin) };
  };
}

export async function createPatientKey(q: Queryable, patientId: string): Promise<PatientCipher> {
  const { row, cipher } = newPatientKey(patientId);
  await q.insert(patientKeys).values(row);
  return cipher;
}

export interface CipherLookup {
  /** A cipher per patient; absent when the patient's key was shredded or never existed. */
  ciphers: Map<string, PatientCipher>;
  /** Patients whose data key was unwrapped (a cache miss) by this lookup. */
  unwrapped: string[];
  /** Patients whose key has been crypto-shredded. */
  shredded: string[];
  /** Patients whose wrapped key failed to open: their cipher reads every value as unavailable. */
  unavailable: string[];
}

/** Told of every unwrap (cache miss), in the lookup's connection or transaction. */
export type DataKeyUnwrapListener = (q: Queryable, patientIds: readonly string[]) => Promise<void> | void;
const globalForListeners = globalThis as unknown as { vigilUnwrapListeners?: DataKeyUnwrapListener[] };
const unwrapListeners = (globalForListeners.vigilUnwrapListeners ??= []);

/**
 * Subscribes to data-key unwraps, so the audit trail can record each one (the chart view also
 * carries `keyUnwrapped`). A listener that throws fails the read: an unrecorded unwrap must not
 * happen. Returns the unsubscribe function.
 */
export function onDataKeyUnwrap(listener: DataKeyUnwrapListener): () => void {
  if (!unwrapListeners.includes(listener)) unwrapListeners.push(listener);
  return () => {
    const at = unwrapListeners.indexOf(listener);
    if (at >= 0) unwrapListeners.splice(at, 1);
  };
}

/** The twin unwraps nothing: its cipher needs no key. */
const TWIN_KEY = Buffer.alloc(0);

export async function getPatientCiphers(q: Queryable, patientIds: string[]): Promise<CipherLookup> {
  const now = Date.now();
  const result: CipherLookup = { ciphers: new Map(), unwrapped: [], shredded: [], unavailable: [] };
  const hits = new Map<string, Buffer>();
  const missing: string[] = [];
  for (const id of new Set(patientIds)) {
    const key = cached(id, now);
    if (key) hits.set(id, key);
    else missing.push(id);
  }
  // A cached key is only used while its row is not shredded: a shred by another process (the
  // keys:shred CLI, another app instance) takes effect at once, not when the cache expires.
  if (hits.size > 0) {
    const shredded = await inChunks([...hits.keys()], (chunk) =>
      q
        .select({ patientId: patientKeys.patientId })
        .from(patientKeys)
        .where(and(inArray(patientKeys.patientId, chunk), or(isNotNull(patientKeys.shreddedAt), isNull(patientKeys.wrappedKey)))),
    );
    for (const { patientId } of shredded) {
      hits.delete(patientId);
      evictDataKey(patientId);
      result.shredded.push(patientId);
    }
    for (const [id, key] of hits) result.ciphers.set(id, cipherFor(id, key));
  }
  if (missing.length === 0) return result;
  const rows = await inChunks(missing, (chunk) => q.select().from(patientKeys).where(inArray(patientKeys.patientId, chunk)));
  const provider = getKeyProvider();
  for (const row of rows) {
    if (row.shreddedAt || !row.wrappedKey) {
      result.shredded.push(row.patientId);
      continue;
    }
    let key: Buffer;
    try {
      key = plaintextTwin() ? TWIN_KEY : noted('unwrap', row.masterKeyVersion, () => provider.unwrap(row.wrappedKey!, wrapContext(row.patientId), row.masterKeyVersion));
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      result.unavailable.push(row.patientId);
      result.ciphers.set(row.patientId, unavailableCipher(row.patientId));
      continue;
    }
    remember(row.patientId, key, now);
    result.ciphers.set(row.patientId, cipherFor(row.patientId, key));
    result.unwrapped.push(row.patientId);
  }
  if (result.unwrapped.length > 0) {
    for (const listener of unwrapListeners) await listener(q, result.unwrapped);
  }
  return result;
}

/**
 * One patient's cipher: undefined when their key was shredded (or never existed). `unavailable`
 * means the wrapped key would not open: the cipher then refuses to open or seal anything.
 */
export async function getPatientCipher(
  q: Queryable,
  patientId: string,
): Promise<{ cipher: PatientCipher | undefined; unwrapped: boolean; unavailable: boolean }> {
  const lookup = await getPatientCiphers(q, [patientId]);
  return {
    cipher: lookup.ciphers.get(patientId),
    unwrapped: lookup.unwrapped.length > 0,
    unavailable: lookup.unavailable.length > 0,
  };
}

/** Destroys a patient's data key: every value sealed with it becomes unreadable, everywhere. */
export async function shredPatientKey(q: Queryable, patientId: string, now = new Date()): Promise<boolean> {
  const updated = await q
    .update(patientKeys)
    .set({ wrappedKey: null, shreddedAt: now })
    .where(and(eq(patientKeys.patientId, patientId), isNull(patientKeys.shreddedAt)))
    .returning({ patientId: patientKeys.patientId });
  evictDataKey(patientId);
  return updated.length > 0;
}

/** Re-wraps one data key under another master key version (for rotation). */
export function rewrapDataKey(wrapped: string, patientId: string, fromVersion: number, toVersion: number): string {
  const provider = getKeyProvider();
  const key = noted('unwrap', fromVersion, () => provider.unwrap(wrapped, wrapContext(patientId), fromVersion));
  return noted('wrap', toVersion, () => provider.wrap(key, wrapContext(patientId), toVersion));
}

/** One key-store call, counted for the key access log whether it succeeds or the store fails. */
function noted<T>(operation: 'wrap' | 'unwrap', version: number, call: () => T): T {
  try {
    const result = call();
    noteKeyAccess(operation, { version });
    return result;
  } catch (error) {
    if (error instanceof KeysUnavailableError) noteKeyAccess(operation, { version, failed: error.problem });
    else if (error instanceof DecryptionError) noteKeyAccess(operation, { version, failed: 'unopenable' });
    throw error;
  }
}

export { DecryptionError };
