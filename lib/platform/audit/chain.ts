import 'server-only';
import { createHash, createHmac, hkdfSync } from 'node:crypto';
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
  const record = value as Record<string, unknown>;
  // Default sort order is UTF-16 code unit order, the same as comparing with < and >.
  let out = '';
  for (const key of Object.keys(record).sort()) {
    const v = record[key];
    if (v === undefined) continue;
    out += `${out ? ',' : ''}${JSON.stringify(key)}:${canonicalJson(v)}`;
  }
  return `{${out}}`;
}

const text = (value: string | null) => (value === null ? 'null' : JSON.stringify(value));

/**
 * canonicalJson of an entry, written out in its keys' sorted order: the verifier runs this once
 * per entry, and the generic walk (sorting keys, recursing) was most of its cost. Same bytes as
 * canonicalJson({ ...fields, occurredAt: ISO string }); chain.test.ts holds the two together.
 */
export function canonicalEntry(f: ChainedFields): string {
  return (
    `{"actionType":${text(f.actionType)},"breakGlassGrantId":${text(f.breakGlassGrantId)},"details":${f.details === null ? 'null' : canonicalJson(f.details)}` +
    `,"ip":${text(f.ip)},"logId":${text(f.logId)},"occurredAt":${JSON.stringify(f.occurredAt.toISOString())},"outcome":${text(f.outcome)}` +
    `,"patientId":${text(f.patientId)},"resourceId":${text(f.resourceId)},"resourceType":${text(f.resourceType)},"sealedAfter":${text(f.sealedAfter)}` +
    `,"sealedBefore":${text(f.sealedBefore)},"seq":${JSON.stringify(f.seq)},"userAgent":${text(f.userAgent)},"userId":${text(f.userId)}}`
  );
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

/** Where one chain ends: its last position and that entry's hash. */
export interface ChainHead {
  chain: number;
  position: number;
  hash: string;
}

const sha256 = (...parts: Array<string | Buffer>) => parts.reduce((h, part) => h.update(part), createHash('sha256')).digest();

/**
 * The Merkle tree hash (RFC 6962, as Certificate Transparency logs use) over the chain heads in
 * chain order: one value that commits to every chain's head, which a checkpoint signs. Leaves
 * and inner nodes are domain-separated (0x00, 0x01) so a node can never pass for a leaf.
 */
export function headsRoot(heads: readonly ChainHead[]): string {
  const leaves = [...heads]
    .sort((a, b) => a.chain - b.chain)
    .map((h) => sha256(Buffer.from([0]), canonicalJson({ chain: h.chain, position: h.position, hash: h.hash })));
  const tree = (nodes: Buffer[]): Buffer => {
    if (nodes.length === 0) return sha256('');
    if (nodes.length === 1) return nodes[0]!;
    let split = 1;
    while (split * 2 < nodes.length) split *= 2;
    return sha256(Buffer.from([1]), tree(nodes.slice(0, split)), tree(nodes.slice(split)));
  };
  return tree(leaves).toString('hex');
}
