import 'server-only';
import { createHmac, hkdfSync } from 'node:crypto';
import { getKeyProvider } from '@/lib/crypto/key-provider';

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
    // inet comes back normalised by the database; hash the form the database returns.
    occurredAt: fields.occurredAt.toISOString(),
  });
}

let chainKey: Buffer | undefined;
function getChainKey(): Buffer {
  chainKey ??= Buffer.from(
    hkdfSync('sha256', getKeyProvider().systemKey(), Buffer.alloc(0), 'vigil-audit-chain-v1', 32),
  );
  return chainKey;
}

/** For tests that swap key providers. */
export function resetChainKey(): void {
  chainKey = undefined;
}

export function chainHash(prevHash: string, fields: ChainedFields): string {
  return createHmac('sha256', getChainKey()).update(prevHash).update(canonicalEntry(fields)).digest('hex');
}
