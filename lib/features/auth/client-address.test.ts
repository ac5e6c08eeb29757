import { and, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { auditLog, loginAttempts } from '@/db/schema';
import { DEMO_PASSWORD } from '@/db/seed';
import { auditActions } from '@/lib/domain/audit/actions';
import { flushRefusals } from '@/lib/platform/audit';
import { PEER_HEADER } from '@/lib/platform/net/client-address';
import { lockoutPolicy } from '@/lib/features/credentials/config';
import { signInWithPassword, type LoginResult } from '@/lib/features/auth/login';
import { requestClient } from '@/lib/features/auth/request';
import { later, testDatabase } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';

const T0 = new Date('2026-03-03T08:00:00Z');
let handle: TestDatabase;

beforeAll(async () => {
  handle = await testDatabase();
});
afterAll(async () => {
  await handle?.close();
});
afterEach(() => {
  vi.unstubAllEnvs();
});

const FORGED = '198.51.100.77';
const request = (peer: string, forwardedFor?: string) =>
  new Headers({ [PEER_HEADER]: peer, 'user-agent': 'vitest', ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) });

/** The address the trail recorded for the sign-in that opened the result's session. */
async function auditedAddress(result: LoginResult) {
  if (!result.ok) throw new Error(result.message);
  // Refused sign-ins are tallied per address and written when flushed (lib/platform/audit/refusals.ts).
  await flushRefusals({ all: true });
  const [row] = await handle.db
    .select({ ip: auditLog.ip })
    .from(auditLog)
    .where(and(eq(auditLog.actionType, auditActions.auth.login), eq(auditLog.resourceId, result.sessionId)));
  return row?.ip;
}

describe('the address sign-in, throttling and the audit trail use', () => {
  it('ignores a forged X-Forwarded-For from an untrusted client: audited IP and throttle bucket are the peer', async () => {
    const client = requestClient(request('203.0.113.20', FORGED));
    expect(client.ip).toBe('203.0.113.20');
    await signInWithPassword({ email: 'staff07@vigil.test', password: 'Wrong-password-1' }, client, { at: T0 });
    const signedIn = await signInWithPassword({ email: 'staff07@vigil.test', password: DEMO_PASSWORD }, client, { at: later(T0, 10) });
    expect(await auditedAddress(signedIn)).toBe('203.0.113.20');
    const forged = await handle.db.select().from(loginAttempts).where(eq(loginAttempts.ip, FORGED));
    expect(forged).toEqual([]);
  });

  it('cannot escape the throttle by rotating X-Forwarded-For', async () => {
    const peer = '203.0.113.21';
    for (let i = 0; i < lockoutPolicy.ipMaxFailures; i++) {
      const client = requestClient(request(peer, `198.51.100.${i + 1}`));
      await signInWithPassword({ email: `nobody-${i}@vigil.test`, password: 'Wrong-password-1' }, client, { at: later(T0, i) });
    }
    const fresh = requestClient(request(peer, '198.51.100.250'));
    const result = await signInWithPassword({ email: 'staff07@vigil.test', password: 'Wrong-password-1' }, fresh, { at: later(T0, 1_000) });
    expect(result).toMatchObject({ ok: false, reason: 'throttled' });
    const counted = await handle.db.select().from(loginAttempts).where(and(eq(loginAttempts.ip, peer), eq(loginAttempts.succeeded, false)));
    expect(counted.length).toBe(lockoutPolicy.ipMaxFailures);
  });

  it('through a configured trusted proxy, records the real client address the proxy saw', async () => {
    vi.stubEnv('VIGIL_TRUSTED_PROXIES', '10.0.0.0/8');
    const client = requestClient(request('10.0.0.5', `${FORGED}, 192.0.2.55`));
    expect(client.ip).toBe('192.0.2.55');
    const result = await signInWithPassword({ email: 'staff07@vigil.test', password: DEMO_PASSWORD }, client, { at: later(T0, 2_000) });
    expect(await auditedAddress(result)).toBe('192.0.2.55');
  });
});
