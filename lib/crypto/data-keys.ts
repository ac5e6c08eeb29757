import 'server-only';
import { randomBytes } from 'node:crypto';
import { and, eq, inArray, isNull } from 'drizzle-orm';
import type { Queryable } from '@/db/client';
import { patientKeys } from '@/db/schema';
import { DecryptionError, openJson, sealContext, sealJson } from './envelope';
import { getKeyProvider } from './key-provider';

/** Seals and opens one patient's values with that patient's data key. */
export interface PatientCipher {
  readonly patientId: string;
  seal(table: string, column: string, rowId: string, value: unknown): string;
  open<T>(table: string, column: string, rowId: string, sealed: string): T;
}

function cipherFor(patientId: string, dataKey: Buffer): PatientCipher {
  return {
    patientId,
    seal: (table, column, rowId, value) => sealJson(dataKey, sealContext(table, column, rowId), value),
    open: <T>(table: string, column: string, rowId: string, sealed: string) =>
      openJson<T>(dataKey, sealContext(table, column, rowId), sealed),
  };
}

function wrapContext(patientId: string): string {
  return `patient_keys.wrapped_key.${patientId}`;
}

/**
 * Unwrapped data keys are cached in memory only, briefly and in bounded number, so that a
 * busy chart does not unwrap on every request. Every cache miss is an unwrap, and is reported
 * to the caller so the audit entry of the access records it.
 */
const CACHE_TTL_MS = Number(process.env.VIGIL_KEY_CACHE_SECONDS ?? 120) * 1000;
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
  cache.set(patientId, { key, expires: now + CACHE_TTL_MS });
}

export function evictDataKey(patientId?: string): void {
  if (patientId) cache.delete(patientId);
  else cache.clear();
}

/** A new data key for a patient, as the row to insert and a cipher to seal with right away. */
export function newPatientKey(patientId: string): {
  row: typeof patientKeys.$inferInsert;
  cipher: PatientCipher;
} {
  const provider = getKeyProvider();
  const dataKey = randomBytes(32);
  const version = provider.currentVersion();
  return {
    row: { patientId, wrappedKey: provider.wrap(dataKey, wrapContext(patientId), version), masterKeyVersion: version },
    cipher: cipherFor(patientId, dataKey),
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
}

export async function getPatientCiphers(q: Queryable, patientIds: string[]): Promise<CipherLookup> {
  const now = Date.now();
  const result: CipherLookup = { ciphers: new Map(), unwrapped: [], shredded: [] };
  const missing: string[] = [];
  for (const id of new Set(patientIds)) {
    const key = cached(id, now);
    if (key) result.ciphers.set(id, cipherFor(id, key));
    else missing.push(id);
  }
  if (missing.length === 0) return result;
  const rows = await q.select().from(patientKeys).where(inArray(patientKeys.patientId, missing));
  const provider = getKeyProvider();
  for (const row of rows) {
    if (row.shreddedAt || !row.wrappedKey) {
      result.shredded.push(row.patientId);
      continue;
    }
    const key = provider.unwrap(row.wrappedKey, wrapContext(row.patientId), row.masterKeyVersion);
    remember(row.patientId, key, now);
    result.ciphers.set(row.patientId, cipherFor(row.patientId, key));
    result.unwrapped.push(row.patientId);
  }
  return result;
}

export async function getPatientCipher(
  q: Queryable,
  patientId: string,
): Promise<{ cipher: PatientCipher | undefined; unwrapped: boolean }> {
  const lookup = await getPatientCiphers(q, [patientId]);
  return { cipher: lookup.ciphers.get(patientId), unwrapped: lookup.unwrapped.length > 0 };
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
  const key = provider.unwrap(wrapped, wrapContext(patientId), fromVersion);
  return provider.wrap(key, wrapContext(patientId), toVersion);
}

export { DecryptionError };
