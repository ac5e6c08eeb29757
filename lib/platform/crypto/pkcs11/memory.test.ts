/**
 * The master key is not in the portal's memory when it lives in the token. A stand-in portal
 * process (test/heap-probe.ts) opens a chart and writes a V8 heap snapshot, which this test
 * searches for the master key in every form the portal could hold it (raw, hex, base64). The
 * token's key has bytes this test chose and imported, so it knows what to look for; the probe
 * never sees them. The same search over a key-file portal finds its key: the search can fail.
 *
 * SoftHSM runs inside the process that loads it, so its own memory does hold the key while it
 * works; the snapshot covers the JavaScript heap, where the portal's code and data live. A real
 * HSM keeps the key on the device.
 */
import { execFile } from 'node:child_process';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureKeyFile } from '@/lib/platform/crypto/key-provider';
import { Pkcs11KeyProvider } from '@/lib/platform/crypto/pkcs11/provider';
import { TokenSession } from '@/lib/platform/crypto/pkcs11/token';
import { requireTestToken } from '@/test/softhsm';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'vigil-heap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function snapshotOf(env: Record<string, string>): Promise<Buffer> {
  const snapshot = path.join(dir, `${randomBytes(4).toString('hex')}.heapsnapshot`);
  await run('npx', ['tsx', '--conditions=react-server', 'test/heap-probe.ts'], {
    env: { ...process.env, ...env, PROBE_SNAPSHOT: snapshot, VIGIL_LOG_LEVEL: 'silent' },
    timeout: 120_000,
  });
  return readFileSync(snapshot);
}

const forms = (key: Buffer) => [key, Buffer.from(key.toString('hex')), Buffer.from(key.toString('base64')), Buffer.from(key.toString('base64url'))];
const holds = (heap: Buffer, key: Buffer) => forms(key).some((form) => heap.includes(form));

describe('the master key in the portal process', () => {
  it('is in the heap of a key-file portal (the search works)', async () => {
    const file = path.join(dir, 'keys.json');
    ensureKeyFile(file);
    const key = Buffer.from(JSON.parse(readFileSync(file, 'utf8')).masterKeys[0].key, 'base64');
    expect(holds(await snapshotOf({ PROBE_KEY_FILE: file }), key)).toBe(true);
  });

  it('is not in the heap of a portal whose master key is in the token', async () => {
    const token = requireTestToken();
    const prefix = `heap-${randomBytes(4).toString('hex')}`;
    const known = randomBytes(32);
    const session = TokenSession.open(token);
    session.importAesKey(`${prefix}-kek-v1`, known); // adopted by the probe as version 1
    const heap = await snapshotOf({ PROBE_PREFIX: prefix });
    expect(heap.length).toBeGreaterThan(1_000_000);
    expect(holds(heap, known)).toBe(false);
    // And version 1 really is the known key: what the token wraps opens with those bytes.
    const adopted = Pkcs11KeyProvider.open({ ...token, prefix });
    const wrapped = Buffer.from(adopted.wrap(Buffer.alloc(32, 9), 'ctx', 1), 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', known, wrapped.subarray(0, 12));
    decipher.setAAD(Buffer.from('kek.v1.ctx'));
    decipher.setAuthTag(wrapped.subarray(wrapped.length - 16));
    const opened = Buffer.concat([decipher.update(wrapped.subarray(12, wrapped.length - 16)), decipher.final()]);
    expect(opened.equals(Buffer.alloc(32, 9))).toBe(true);
    session.close();
  });
});
