import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalEntry, canonicalJson, headsRoot, type ChainedFields } from '@/lib/platform/audit/chain';

/** The encoding every stored hash was computed over: keys sorted at every depth, dates as ISO text. */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(',')}}`;
}

const entry = (overrides: Partial<ChainedFields> = {}): ChainedFields => ({
  seq: 42,
  logId: randomUUID(),
  userId: randomUUID(),
  actionType: 'chart.view',
  resourceType: 'patient',
  resourceId: 'a "quoted" \\ id',
  patientId: randomUUID(),
  occurredAt: new Date('2026-03-04T05:06:07.089Z'),
  ip: '2001:db8::7',
  userAgent: 'Mozilla/5.0 ✓ \u2028',
  outcome: 'allowed',
  breakGlassGrantId: null,
  details: { z: 1, a: { c: [1, { y: null, b: 'x' }], b: true }, Ä: 'ü', A: undefined },
  sealedBefore: null,
  sealedAfter: 'v1.sealed',
  ...overrides,
});

describe('the canonical form entries are hashed over', () => {
  it('encodes an entry exactly as the generic sorted-key encoding does, whatever is null', () => {
    for (const fields of [
      entry(),
      entry({ userId: null, patientId: null, resourceId: null, ip: null, userAgent: null, details: null, sealedAfter: null }),
      entry({ details: {}, breakGlassGrantId: randomUUID(), sealedBefore: 'v1.before' }),
    ]) {
      expect(canonicalEntry(fields)).toBe(reference({ ...fields, occurredAt: fields.occurredAt.toISOString() }));
      expect(canonicalJson(fields.details)).toBe(reference(fields.details));
    }
  });

  it('commits to every chain head: any change of one head changes the root', () => {
    const heads = Array.from({ length: 5 }, (_, chain) => ({ chain, position: 10 + chain, hash: String(chain).repeat(64) }));
    const root = headsRoot(heads);
    expect(headsRoot([...heads].reverse())).toBe(root);
    expect(headsRoot(heads.map((h) => (h.chain === 3 ? { ...h, position: 12 } : h)))).not.toBe(root);
    expect(headsRoot(heads.filter((h) => h.chain !== 4))).not.toBe(root);
    expect(headsRoot([])).toMatch(/^[0-9a-f]{64}$/);
  });
});
