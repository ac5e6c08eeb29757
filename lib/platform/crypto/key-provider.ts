import 'server-only';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { openBytes, sealBytes } from '@/lib/platform/crypto/envelope';
import { env } from '@/lib/platform/env';
import { noteKeyAccess } from '@/lib/platform/crypto/key-access-log';
import { KeysUnavailableError } from '@/lib/platform/crypto/keys-unavailable';
import type { KeyProvider, MasterKeyInfo } from '@/lib/platform/crypto/key-provider-api';
import { Pkcs11KeyProvider } from '@/lib/platform/crypto/pkcs11/provider';

export type { KeyProvider, MasterKeyInfo } from '@/lib/platform/crypto/key-provider-api';

const keyB64 = z.string().refine((s) => Buffer.from(s, 'base64').length === 32, 'a 256-bit key');
const keyFileSchema = z.object({
  masterKeys: z
    .array(
      z.object({
        version: z.number().int().positive(),
        key: keyB64,
        createdAt: z.string(),
        retiredAt: z.string().optional(),
      }),
    )
    .min(1),
  blindIndexKey: keyB64,
  systemKey: keyB64,
});
export type KeyMaterial = z.infer<typeof keyFileSchema>;

export function generateKeyMaterial(): KeyMaterial {
  const now = new Date().toISOString();
  return {
    masterKeys: [{ version: 1, key: randomBytes(32).toString('base64'), createdAt: now }],
    blindIndexKey: randomBytes(32).toString('base64'),
    systemKey: randomBytes(32).toString('base64'),
  };
}

/** Keys held in memory; the key file and environment providers persist through `save`. */
export class StaticKeyProvider implements KeyProvider {
  constructor(
    protected material: KeyMaterial,
    readonly name = 'static',
    private readonly save: (material: KeyMaterial) => void = () => {},
  ) {}

  /**
   * Re-reads a store that another process may change (the key file, when `keys:rotate` adds a
   * version while the portal runs). `force` skips any throttle. Memory-only keys never change.
   */
  protected refresh(_force: boolean): void {}

  currentVersion(): number {
    this.refresh(false);
    return Math.max(...this.material.masterKeys.map((k) => k.version));
  }

  versions(): number[] {
    this.refresh(false);
    return this.material.masterKeys.map((k) => k.version).sort((a, b) => a - b);
  }

  private masterKey(version: number): Buffer {
    let entry = this.material.masterKeys.find((k) => k.version === version);
    if (!entry) {
      this.refresh(true);
      entry = this.material.masterKeys.find((k) => k.version === version);
    }
    if (!entry) throw new KeysUnavailableError('key_version_missing', version);
    return Buffer.from(entry.key, 'base64');
  }

  describe(): MasterKeyInfo[] {
    this.refresh(false);
    return this.material.masterKeys
      .map((k) => ({ version: k.version, location: this.name, createdAt: k.createdAt, ...(k.retiredAt ? { retiredAt: k.retiredAt } : {}) }))
      .sort((a, b) => a.version - b.version);
  }

  wrap(dataKey: Buffer, context: string, version = this.currentVersion()): string {
    return sealBytes(this.masterKey(version), `kek.v${version}.${context}`, dataKey);
  }

  unwrap(wrapped: string, context: string, version: number): Buffer {
    return openBytes(this.masterKey(version), `kek.v${version}.${context}`, wrapped);
  }

  async addVersion(): Promise<number> {
    this.refresh(true);
    const version = this.currentVersion() + 1;
    const next = {
      ...this.material,
      masterKeys: [
        ...this.material.masterKeys,
        { version, key: randomBytes(32).toString('base64'), createdAt: new Date().toISOString() },
      ],
    };
    this.save(next);
    this.material = next;
    noteKeyAccess('add_version', { version });
    return version;
  }

  async retireVersion(version: number): Promise<boolean> {
    this.refresh(true);
    if (version === this.currentVersion()) throw new Error('The current master key cannot be retired.');
    const entry = this.material.masterKeys.find((k) => k.version === version);
    if (!entry) throw new Error(`Master key version ${version} is not available.`);
    if (entry.retiredAt) return false;
    const next = {
      ...this.material,
      masterKeys: this.material.masterKeys.map((k) =>
        k.version === version ? { ...k, retiredAt: new Date().toISOString() } : k,
      ),
    };
    this.save(next);
    this.material = next;
    noteKeyAccess('retire_version', { version });
    return true;
  }

  blindIndexKey(): Buffer {
    return Buffer.from(this.material.blindIndexKey, 'base64');
  }

  systemKey(): Buffer {
    return Buffer.from(this.material.systemKey, 'base64');
  }
}

export function keyFilePath(): string {
  return path.resolve(env().VIGIL_KEY_FILE);
}

/** Parses key material without ever echoing it: a JSON or schema error could quote a key. */
function parseKeyMaterial(json: string, source: string): KeyMaterial {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error(`${source} is not valid JSON.`);
  }
  const parsed = keyFileSchema.safeParse(value);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || 'root'))].join(', ');
    throw new Error(`${source} does not hold valid key material (check: ${fields}).`);
  }
  return parsed.data;
}

function writeKeyFile(file: string, material: KeyMaterial): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  // Written whole then renamed, so a crash never leaves a half-written key file.
  writeFileSync(temp, JSON.stringify(material, null, 2), { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, file);
}

/** Creates the local key file (mode 0600) when absent; for demo and first-run set-up only. */
export function ensureKeyFile(file = keyFilePath()): boolean {
  if (existsSync(file)) return false;
  writeKeyFile(file, generateKeyMaterial());
  return true;
}

/** How often a running process looks for a version added to the key file by another one. */
export const KEY_FILE_RECHECK_MS = 5_000;

/**
 * The local key file. Other processes (keys:rotate) may add or retire versions while this one
 * runs, so the file is re-read when it changed: at most every few seconds for the current
 * version, and at once when asked for a version this process has not seen.
 */
class KeyFileProvider extends StaticKeyProvider {
  private checkedAt: number;
  private signature: string;

  constructor(private readonly file: string) {
    super(parseKeyMaterial(readFileSync(file, 'utf8'), `The key file ${file}`), `file:${file}`, (m) => writeKeyFile(file, m));
    this.checkedAt = Date.now();
    this.signature = fileSignature(file);
  }

  protected override refresh(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.checkedAt < KEY_FILE_RECHECK_MS) return;
    this.checkedAt = now;
    const signature = fileSignature(this.file);
    if (!signature || signature === this.signature) return;
    this.material = parseKeyMaterial(readFileSync(this.file, 'utf8'), `The key file ${this.file}`);
    this.signature = signature;
  }
}

function fileSignature(file: string): string {
  try {
    const s = statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return '';
  }
}

export function loadKeyFileProvider(file = keyFilePath()): KeyProvider {
  if (!existsSync(file)) {
    throw new Error(
      `No master key file at ${file}. Run "npm run demo" once, or set VIGIL_KEY_FILE or VIGIL_MASTER_KEYS.`,
    );
  }
  return new KeyFileProvider(file);
}

/** VIGIL_MASTER_KEYS holds the same JSON as the key file (for secret managers that inject env). */
export function loadEnvProvider(json: string): KeyProvider {
  const material = parseKeyMaterial(json, 'VIGIL_MASTER_KEYS');
  return new StaticKeyProvider(material, 'env', () => {
    throw new Error('Keys from VIGIL_MASTER_KEYS are read-only: add the version in your secret manager, then run keys:rotate with --to-current.');
  });
}

const globalForKeys = globalThis as unknown as {
  vigilKeyProvider?: KeyProvider;
  vigilKeyFailure?: { error: KeysUnavailableError; until: number };
};

/**
 * How long a key store that failed to open is left alone before the next try. A real HSM locks
 * its PIN after a few wrong tries: retrying a wrong PIN on every request would lock it.
 */
export const KEY_STORE_RETRY_MS = 30_000;

/** The configured key store, opened once; a failure is remembered and thrown again until retried. */
export function getKeyProvider(): KeyProvider {
  if (globalForKeys.vigilKeyProvider) return globalForKeys.vigilKeyProvider;
  const failure = globalForKeys.vigilKeyFailure;
  if (failure && Date.now() < failure.until) throw failure.error;
  try {
    globalForKeys.vigilKeyProvider = openConfiguredProvider();
    globalForKeys.vigilKeyFailure = undefined;
    noteKeyAccess('open');
  } catch (error) {
    if (!(error instanceof KeysUnavailableError)) throw error;
    noteKeyAccess('open', { failed: error.problem });
    globalForKeys.vigilKeyFailure = { error, until: Date.now() + KEY_STORE_RETRY_MS };
    throw error;
  }
  return globalForKeys.vigilKeyProvider;
}

function openConfiguredProvider(): KeyProvider {
  const config = env();
  const kind = config.VIGIL_KEY_PROVIDER ?? (config.VIGIL_MASTER_KEYS ? 'env' : 'file');
  if (kind === 'env') {
    if (!config.VIGIL_MASTER_KEYS) throw new KeysUnavailableError('misconfigured');
    return loadEnvProvider(config.VIGIL_MASTER_KEYS);
  }
  if (kind === 'file') return loadKeyFileProvider();
  if (!config.VIGIL_PKCS11_MODULE || (config.VIGIL_PKCS11_TOKEN_LABEL === undefined && config.VIGIL_PKCS11_SLOT === undefined)) {
    throw new KeysUnavailableError('misconfigured');
  }
  // The key file, while it still exists, answers for the versions not yet moved into the token.
  const legacy = existsSync(keyFilePath()) ? loadKeyFileProvider() : undefined;
  return Pkcs11KeyProvider.open({
    module: config.VIGIL_PKCS11_MODULE,
    tokenLabel: config.VIGIL_PKCS11_TOKEN_LABEL,
    slot: config.VIGIL_PKCS11_SLOT,
    pin: config.VIGIL_PKCS11_PIN,
    pinFile: config.VIGIL_PKCS11_PIN_FILE,
    legacy,
  });
}

export function setKeyProvider(provider: KeyProvider | undefined): void {
  globalForKeys.vigilKeyProvider = provider;
  globalForKeys.vigilKeyFailure = undefined;
}
