import 'server-only';
import { createHmac, hkdfSync } from 'node:crypto';
import { getKeyProvider, type KeyProvider } from '@/lib/platform/crypto/key-provider';

/**
 * The audit chain: hash = HMAC-SHA256(chainKey, prev_hash || canonical(entry)). An HMAC rather
 * than a bare SHA-256 because the chain key lives with the master keys, outside the database:
 * someone with write access to the database alone cannot recompute a valid chain after an edit.
 */
export const GENESIS_HASH = '0'.repeat(64);

export interface ChainedFields {
  seq: number;
  logId: string;
  userId: string | null;
  actionType: string;
  resourceType: string;
  resourceId: string | null;
  patientId: string | null;
  occurredAt: Date;
  ip: string | null;
  userAgent: string | null;
  outcome: string;
  breakGlassGrantId: string | null;
  details: Record<string, unknown> | null;
  sealedBefore: string | null;
  sealedAfter: string | null;
}

/** JSON with object keys sorted at every depth, so the same entry always encodes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function canonicalEntry(fields: ChainedFields): string {
  return canonicalJson({
    ...fields,
    // Every field must hash as the database returns it: see normaliseIp and recordAudit.
    occurredAt: fields.occurredAt.toISOString(),
  });
}

/**
 * Keys derived from the key provider's system key (HKDF, one label per purpose), held per
 * provider so a swapped provider (tests, a reloaded key file) never signs with a stale key.
 */
let derivedKeys = new WeakMap<KeyProvider, Map<string, Buffer>>();
function derivedKey(purpose: 'vigil-audit-chain-v1' | 'vigil-audit-checkpoint-v1'): Buffer {
  const provider = getKeyProvider();
  let keys = derivedKeys.get(provider);
  if (!keys) derivedKeys.set(provider, (keys = new Map()));
  let key = keys.get(purpose);
  if (!key) keys.set(purpose, (key = Buffer.from(hkdfSync('sha256', provider.systemKey(), Buffer.alloc(0), purpose, 32))));
  return key;
}

/** For tests that replace key material inside one provider object. */
export function resetChainKey(): void {
  derivedKeys = new WeakMap();
}

/** HMAC of a checkpoint's text, with a key separate from the chain's. */
export function checkpointSignature(text: string): string {
  return createHmac('sha256', derivedKey('vigil-audit-checkpoint-v1')).update(text).digest('hex');
}

export function chainHash(prevHash: string, fields: ChainedFields): string {
  return createHmac('sha256', derivedKey('vigil-audit-chain-v1')).update(prevHash).update(canonicalEntry(fields)).digest('hex');
}
