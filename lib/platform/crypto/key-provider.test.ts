import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { DecryptionError } from '@/lib/platform/crypto/envelope';
import {
  ensureKeyFile,
  generateKeyMaterial,
  getKeyProvider,
  KEY_FILE_RECHECK_MS,
  loadEnvProvider,
  loadKeyFileProvider,
  setKeyProvider,
  StaticKeyProvider,
} from '@/lib/platform/crypto/key-provider';

const dir = mkdtempSync(path.join(tmpdir(), 'vigil-keys-'));
let n = 0;
const freshPath = () => path.join(dir, `nested-${++n}`, 'keys.json');
const mode = (file: string) => statSync(file).mode & 0o777;

afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  setKeyProvider(undefined);
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe('key file provider', () => {
  it('creates the key file once, with mode 0600 whatever the umask', () => {
    const file = freshPath();
    const previous = process.umask(0o000);
    try {
      expect(ensureKeyFile(file)).toBe(true);
    } finally {
      process.umask(previous);
    }
    expect(mode(file)).toBe(0o600);
    const before = readFileSync(file, 'utf8');
    expect(ensureKeyFile(file)).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe(before);
    const material = JSON.parse(before);
    expect(material.masterKeys).toHaveLength(1);
    expect(new Set([material.masterKeys[0].key, material.blindIndexKey, material.systemKey]).size).toBe(3);
  });

  it('wraps and unwraps, bound to the context and the version', () => {
    const file = freshPath();
    ensureKeyFile(file);
    const provider = loadKeyFileProvider(file);
    const dataKey = randomBytes(32);
    const wrapped = provider.wrap(dataKey, 'patient_keys.wrapped_key.p1');
    expect(provider.unwrap(wrapped, 'patient_keys.wrapped_key.p1', 1).equals(dataKey)).toBe(true);
    expect(() => provider.unwrap(wrapped, 'patient_keys.wrapped_key.p2', 1)).toThrow(DecryptionError);
    expect(() => provider.unwrap(wrapped, 'patient_keys.wrapped_key.p1', 2)).toThrow(/version 2 is not available/);
  });

  it('adds and retires versions, keeping the file 0600 and old wraps readable', async () => {
    const file = freshPath();
    ensureKeyFile(file);
    const provider = loadKeyFileProvider(file);
    const dataKey = randomBytes(32);
    const old = provider.wrap(dataKey, 'ctx');
    expect(await provider.addVersion()).toBe(2);
    expect(provider.currentVersion()).toBe(2);
    expect(mode(file)).toBe(0o600);
    await provider.retireVersion(1);
    await expect(provider.retireVersion(2)).rejects.toThrow(/current master key/);
    const reread = loadKeyFileProvider(file);
    expect(reread.versions()).toEqual([1, 2]);
    expect(JSON.parse(readFileSync(file, 'utf8')).masterKeys[0].retiredAt).toEqual(expect.any(String));
    expect(reread.unwrap(old, 'ctx', 1).equals(dataKey)).toBe(true);
  });

  it('sees a version another process added, so a running portal keeps serving during rotation', async () => {
    const file = freshPath();
    ensureKeyFile(file);
    const portal = loadKeyFileProvider(file);
    const rotator = loadKeyFileProvider(file);
    const dataKey = randomBytes(32);
    const target = await rotator.addVersion();
    const rewrapped = rotator.wrap(dataKey, 'ctx', target);
    // An unknown version is looked up at once...
    expect(portal.unwrap(rewrapped, 'ctx', target).equals(dataKey)).toBe(true);
    // ...and new wraps move to the newest version within the recheck interval.
    const later = await rotator.addVersion();
    expect(portal.currentVersion()).toBe(target);
    vi.spyOn(Date, 'now').mockReturnValue(Date.now() + KEY_FILE_RECHECK_MS + 1);
    expect(portal.currentVersion()).toBe(later);
  });

  it('never echoes key material when the file is malformed', () => {
    const file = freshPath();
    ensureKeyFile(file);
    const material = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...material, systemKey: 'c2hvcnQ=' }));
    expect(() => loadKeyFileProvider(file)).toThrow(/systemKey/);
    try {
      loadKeyFileProvider(file);
    } catch (error) {
      expect(String((error as Error).message)).not.toContain(material.blindIndexKey);
    }
    writeFileSync(file, `{"masterKeys": [${material.masterKeys[0].key}`);
    expect(() => loadKeyFileProvider(file)).toThrow(/not valid JSON/);
    try {
      loadKeyFileProvider(file);
    } catch (error) {
      expect(String((error as Error).message)).not.toContain(material.masterKeys[0].key.slice(0, 6));
    }
  });

  it('names the missing file and how to create it', () => {
    expect(() => loadKeyFileProvider(path.join(dir, 'absent.json'))).toThrow(/npm run demo/);
  });
});

describe('environment provider', () => {
  it('reads VIGIL_MASTER_KEYS before any key file, and is read-only', async () => {
    const material = generateKeyMaterial();
    vi.stubEnv('VIGIL_MASTER_KEYS', JSON.stringify(material));
    vi.stubEnv('VIGIL_KEY_FILE', path.join(dir, 'never-created.json'));
    setKeyProvider(undefined);
    const provider = getKeyProvider();
    expect(provider.name).toBe('env');
    const dataKey = randomBytes(32);
    const fromMemory = new StaticKeyProvider(material);
    expect(provider.unwrap(fromMemory.wrap(dataKey, 'ctx'), 'ctx', 1).equals(dataKey)).toBe(true);
    expect(provider.blindIndexKey().equals(Buffer.from(material.blindIndexKey, 'base64'))).toBe(true);
    await expect(provider.addVersion()).rejects.toThrow(/read-only/);
    expect(provider.currentVersion()).toBe(1);
  });

  it('rejects malformed JSON without quoting it', () => {
    const material = generateKeyMaterial();
    const broken = JSON.stringify(material).slice(0, -5);
    expect(() => loadEnvProvider(broken)).toThrow('VIGIL_MASTER_KEYS is not valid JSON.');
    expect(() => loadEnvProvider(JSON.stringify({ ...material, masterKeys: [] }))).toThrow(/masterKeys/);
  });
});
