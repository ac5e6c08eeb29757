/**
 * The PKCS#11 key provider on a real token (SoftHSM, made by scripts/ensure-softhsm.sh): the
 * master keys are non-extractable objects of the token, wrapping happens inside it, every way
 * the token can fail is a plain refusal with a named cause, and a key file moves into the token
 * online, with every chart readable throughout. The crypto, rotation, shred and chart-tampering
 * test files also run on the token (scripts/test-all.sh, VIGIL_TEST_KEY_PROVIDER=pkcs11).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isNotNull, sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Db } from '@/db/client';
import { patientKeys, patients } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { resetChainKey } from '@/lib/platform/audit/chain';
import { DecryptionError } from '@/lib/platform/crypto/envelope';
import { evictDataKey } from '@/lib/platform/crypto/data-keys';
import { ensureKeyFile, getKeyProvider, loadKeyFileProvider, setKeyProvider } from '@/lib/platform/crypto/key-provider';
import { KEYS_UNAVAILABLE_MESSAGE, KeysUnavailableError } from '@/lib/platform/crypto/keys-unavailable';
import { Pkcs11KeyProvider } from '@/lib/platform/crypto/pkcs11/provider';
import { TokenSession } from '@/lib/platform/crypto/pkcs11/token';
import { healthStatus } from '@/lib/platform/health';
import { getChart, listPatients } from '@/lib/features/records';
import { rotateMasterKeys, RotationInterrupted } from '@/lib/ops/keys/rotation';
import { createTestDatabase, type TestDatabase } from '@/test/db';
import { viewer } from '@/test/fixtures';
import { freshTokenProvider, requireTestToken } from '@/test/softhsm';
import { seedDatabase } from '@/db/seed';

const dir = mkdtempSync(path.join(tmpdir(), 'vigil-p11-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.unstubAllEnvs());

const problemOf = (run: () => unknown): string | undefined => {
  try {
    run();
  } catch (error) {
    if (error instanceof KeysUnavailableError) return error.problem;
    throw error;
  }
  return undefined;
};

describe('master keys in the token', () => {
  it('are made in the token as sensitive, never-extractable keys the token will not give up', async () => {
    const provider = freshTokenProvider();
    await provider.addVersion();
    for (const version of provider.versions()) {
      const handle = provider.session.findSecretKey(provider.kekLabel(version))!;
      expect(provider.session.attributes(handle)).toEqual({ extractable: false, sensitive: true, neverExtractable: true });
      expect(() => provider.session.readKeyValue(handle)).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
      expect(() => provider.session.makeExtractable(handle)).toThrow(/CKR_ATTRIBUTE_READ_ONLY/);
    }
    expect(provider.describe().map((v) => v.location)).toEqual([
      expect.stringContaining(provider.kekLabel(1)),
      expect.stringContaining(provider.kekLabel(2)),
    ]);
  });

  it('wraps inside the token, bound to the patient and the version', () => {
    const provider = freshTokenProvider();
    const dataKey = randomBytes(32);
    const wrapped = provider.wrap(dataKey, 'patient_keys.wrapped_key.p1');
    expect(Buffer.from(wrapped, 'base64url').includes(dataKey)).toBe(false);
    expect(provider.unwrap(wrapped, 'patient_keys.wrapped_key.p1', 1).equals(dataKey)).toBe(true);
    expect(() => provider.unwrap(wrapped, 'patient_keys.wrapped_key.p2', 1)).toThrow(DecryptionError);
    const flipped = Buffer.from(wrapped, 'base64url');
    flipped[20]! ^= 1;
    expect(() => provider.unwrap(flipped.toString('base64url'), 'patient_keys.wrapped_key.p1', 1)).toThrow(DecryptionError);
    expect(problemOf(() => provider.unwrap(wrapped, 'patient_keys.wrapped_key.p1', 9))).toBe('key_version_missing');
  });

  it('keeps its blind-index and system keys in the token, encrypted, across a restart', () => {
    const first = freshTokenProvider();
    const reopened = Pkcs11KeyProvider.open({ ...requireTestToken(), prefix: first.kekLabel(1).replace(/-kek-v1$/, '') });
    expect(reopened.blindIndexKey().equals(first.blindIndexKey())).toBe(true);
    expect(reopened.systemKey().equals(first.systemKey())).toBe(true);
    expect(reopened.blindIndexKey().equals(reopened.systemKey())).toBe(false);
  });

  it('uses a key it holds without the portal ever holding its bytes (a known test key, imported)', () => {
    const provider = freshTokenProvider();
    const known = randomBytes(32);
    // Version 7's master key has bytes this test knows; the token still refuses to reveal them.
    provider.session.importAesKey(provider.kekLabel(7), known);
    const register = provider as unknown as { register: { versions: Array<{ version: number; createdAt: string }> } };
    register.register.versions.push({ version: 7, createdAt: new Date().toISOString() });
    const dataKey = randomBytes(32);
    const wrapped = provider.wrap(dataKey, 'ctx', 7);
    expect(provider.unwrap(wrapped, 'ctx', 7).equals(dataKey)).toBe(true);
    const handle = provider.session.findSecretKey(provider.kekLabel(7))!;
    expect(() => provider.session.readKeyValue(handle)).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
    // Nothing the provider keeps (its handles, register, secrets) carries the key's bytes.
    const kept = JSON.stringify(provider, (_k, v) => (Buffer.isBuffer(v) ? v.toString('hex') : v));
    expect(kept).not.toContain(known.toString('hex'));
    expect(wrapped).not.toContain(known.toString('base64url'));
  });
});

describe('when the token cannot be used', () => {
  const configure = (overrides: Record<string, string>) => {
    const token = requireTestToken();
    vi.stubEnv('VIGIL_KEY_PROVIDER', 'pkcs11');
    vi.stubEnv('VIGIL_KEY_FILE', path.join(dir, 'no-such-keys.json'));
    vi.stubEnv('VIGIL_PKCS11_MODULE', token.module);
    vi.stubEnv('VIGIL_PKCS11_TOKEN_LABEL', token.tokenLabel!);
    vi.stubEnv('VIGIL_PKCS11_PIN_FILE', token.pinFile!);
    for (const [name, value] of Object.entries(overrides)) vi.stubEnv(name, value);
    setKeyProvider(undefined);
    // A fresh portal process: no session of ours is logged in yet.
    TokenSession.logOut(token);
  };

  it('names a wrong PIN, a missing token, a missing module and an unsafe PIN file, and never says the PIN', () => {
    const wrongPin = path.join(dir, 'wrong-pin');
    writeFileSync(wrongPin, 'not-the-pin-4242', { mode: 0o600 });
    const looseFile = path.join(dir, 'loose-pin');
    writeFileSync(looseFile, 'whatever', { mode: 0o644 });
    chmodSync(looseFile, 0o644);
    const cases: Array<[Record<string, string>, string]> = [
      [{ VIGIL_PKCS11_PIN_FILE: wrongPin }, 'wrong_pin'],
      [{ VIGIL_PKCS11_TOKEN_LABEL: 'no-such-token' }, 'token_missing'],
      [{ VIGIL_PKCS11_MODULE: path.join(dir, 'libmissing.so') }, 'module_missing'],
      [{ VIGIL_PKCS11_PIN_FILE: looseFile }, 'pin_file_insecure'],
    ];
    for (const [overrides, problem] of cases) {
      configure(overrides);
      let message = '';
      try {
        getKeyProvider();
      } catch (error) {
        expect(error).toBeInstanceOf(KeysUnavailableError);
        expect((error as KeysUnavailableError).problem).toBe(problem);
        message = (error as Error).message;
      }
      expect(message).not.toBe('');
      expect(message).not.toContain('not-the-pin-4242');
      expect(message).not.toContain(dir);
    }
  });

  it('does not retry a failed login on every request (an HSM locks a PIN tried too often)', () => {
    const wrongPin = path.join(dir, 'wrong-pin-2');
    writeFileSync(wrongPin, 'bad', { mode: 0o600 });
    configure({ VIGIL_PKCS11_PIN_FILE: wrongPin });
    expect(problemOf(() => getKeyProvider())).toBe('wrong_pin');
    vi.stubEnv('VIGIL_PKCS11_PIN_FILE', requireTestToken().pinFile!); // fixed, but inside the back-off
    expect(problemOf(() => getKeyProvider())).toBe('wrong_pin');
    setKeyProvider(undefined); // an operator's restart
    expect(getKeyProvider()).toBeInstanceOf(Pkcs11KeyProvider);
  });
});

describe('the portal on the token', () => {
  let handle: TestDatabase;
  let db: Db;
  let physician: Viewer;
  let ids: string[];

  beforeAll(async () => {
    const file = path.join(dir, 'keys.json');
    ensureKeyFile(file);
    setKeyProvider(loadKeyFileProvider(file));
    resetChainKey();
    evictDataKey();
    handle = await createTestDatabase();
    db = handle.db;
    await seedDatabase(db, { patients: 24 });
    physician = await viewer(db, 'physician@vigil.test');
    ids = (await db.select({ id: patients.id }).from(patients).orderBy(patients.id)).map((p) => p.id);
  });
  afterAll(async () => {
    setKeyProvider(undefined);
    await handle?.close();
  });

  async function everyChartOpens(): Promise<void> {
    for (const id of ids) {
      const opened = await getChart(physician, id);
      expect(opened.ok, id).toBe(true);
      if (opened.ok) expect(opened.value.demographics?.status, id).toBe('ok');
    }
  }

  it('moves from the key file into the token online: killed, resumed, every chart readable, the file retired', async () => {
    const file = path.join(dir, 'keys.json');
    const surname = await listPatients(physician, { q: '' });
    expect(surname.ok).toBe(true);
    // The portal restarts on the token with the key file still in place, and keeps serving.
    const provider = freshTokenProvider({ legacy: loadKeyFileProvider(file) });
    setKeyProvider(provider);
    evictDataKey();
    await everyChartOpens();

    await expect(rotateMasterKeys(db, { toPkcs11: true, batchSize: 5, failAfterBatches: 2 })).rejects.toBeInstanceOf(RotationInterrupted);
    evictDataKey();
    await everyChartOpens();
    const result = await rotateMasterKeys(db, { toPkcs11: true, batchSize: 5 });
    expect(result).toMatchObject({ resumed: true, targetVersion: 2, retired: [1], stillReferenced: [] });
    const versions = await db.selectDistinct({ v: patientKeys.masterKeyVersion }).from(patientKeys).where(isNotNull(patientKeys.wrappedKey));
    expect(versions).toEqual([{ v: 2 }]);
    expect(provider.inToken(2)).toBe(true);
    expect(provider.selfContained()).toBe(true);

    // The file is deleted; a portal started on the token alone reads every chart and searches.
    rmSync(file);
    expect(existsSync(file)).toBe(false);
    const tokenOnly = Pkcs11KeyProvider.open({ ...requireTestToken(), prefix: provider.kekLabel(1).replace(/-kek-v1$/, '') });
    setKeyProvider(tokenOnly);
    resetChainKey();
    evictDataKey();
    await everyChartOpens();
    const after = await listPatients(physician, { q: '' });
    expect(after.ok && after.value.rows).toEqual(surname.ok && surname.value.rows);
    // The blind index still finds a patient by MRN: its key came over from the file unchanged.
    const first = surname.ok ? surname.value.rows[0]! : undefined;
    const found = await listPatients(physician, { q: first!.mrn });
    expect(found.ok && found.value.rows.map((r) => r.id)).toEqual([first!.id]);
    expect((await healthStatus()).keys).toBe('ok');
  });

  it('refuses PHI plainly when a master key version in use is missing, and health names it', async () => {
    const tokenOnly = getKeyProvider() as Pkcs11KeyProvider;
    evictDataKey();
    // Data keys point at a version this key store does not hold.
    await db.execute(sql`UPDATE patient_keys SET master_key_version = 40 WHERE patient_id = ${ids[0]}`);
    const opened = await getChart(physician, ids[0]!);
    expect(opened).toEqual({ ok: false, error: 'keys_unavailable', message: KEYS_UNAVAILABLE_MESSAGE });
    expect(await healthStatus()).toMatchObject({ status: 'degraded', keys: 'key_version_missing' });
    await db.execute(sql`UPDATE patient_keys SET master_key_version = 2 WHERE patient_id = ${ids[0]}`);
    expect((await getChart(physician, ids[0]!)).ok).toBe(true);
    expect(tokenOnly.versions()).toEqual([2]);
  });

  it('refuses PHI plainly on a wrong PIN or a missing token, and health names each', async () => {
    const token = requireTestToken();
    const wrongPin = path.join(dir, 'portal-wrong-pin');
    writeFileSync(wrongPin, 'not-the-pin-5151', { mode: 0o600 });
    for (const [overrides, problem] of [
      [{ VIGIL_PKCS11_PIN_FILE: wrongPin }, 'wrong_pin'],
      [{ VIGIL_PKCS11_TOKEN_LABEL: 'unplugged-token' }, 'token_missing'],
    ] as const) {
      vi.stubEnv('VIGIL_KEY_PROVIDER', 'pkcs11');
      vi.stubEnv('VIGIL_KEY_FILE', path.join(dir, 'no-such-keys.json'));
      vi.stubEnv('VIGIL_PKCS11_MODULE', token.module);
      vi.stubEnv('VIGIL_PKCS11_TOKEN_LABEL', token.tokenLabel!);
      vi.stubEnv('VIGIL_PKCS11_PIN_FILE', token.pinFile!);
      for (const [name, value] of Object.entries(overrides)) vi.stubEnv(name, value);
      TokenSession.logOut(token); // a portal process starting afresh
      setKeyProvider(undefined);
      resetChainKey();
      evictDataKey();
      const opened = await getChart(physician, ids[1]!);
      expect(opened).toEqual({ ok: false, error: 'keys_unavailable', message: KEYS_UNAVAILABLE_MESSAGE });
      const health = await healthStatus();
      expect(health).toMatchObject({ status: 'degraded', database: 'ok', keys: problem });
      expect(JSON.stringify(health)).not.toContain('5151');
    }
  });
});
