import 'server-only';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { openBytes, sealBytes } from './envelope';

/**
 * Master keys (key-encryption keys) live outside the database. A provider wraps and unwraps
 * per-patient data keys with a versioned master key; the interface is what a KMS or a PKCS#11
 * HSM would implement (wrap/unwrap by version, add a version), so raw master keys need never
 * leave such a device. The blind-index and system keys are separate secrets from the same store.
 */
export interface KeyProvider {
  readonly name: string;
  currentVersion(): number;
  versions(): number[];
  wrap(dataKey: Buffer, context: string, version?: number): string;
  unwrap(wrapped: string, context: string, version: number): Buffer;
  /** Creates a new master key version, which becomes current. */
  addVersion(): Promise<number>;
  /** Marks a version retired: it stays for unwrapping until removed by an operator. */
  retireVersion(version: number): Promise<void>;
  /** HMAC key for blind indexes: never used to encrypt. */
  blindIndexKey(): Buffer;
  /** Key for server secrets that belong to no patient (TOTP secrets). */
  systemKey(): Buffer;
}

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

  currentVersion(): number {
    return Math.max(...this.material.masterKeys.map((k) => k.version));
  }

  versions(): number[] {
    return this.material.masterKeys.map((k) => k.version).sort((a, b) => a - b);
  }

  private masterKey(version: number): Buffer {
    const entry = this.material.masterKeys.find((k) => k.version === version);
    if (!entry) throw new Error(`Master key version ${version} is not available.`);
    return Buffer.from(entry.key, 'base64');
  }

  wrap(dataKey: Buffer, context: string, version = this.currentVersion()): string {
    return sealBytes(this.masterKey(version), `kek.v${version}.${context}`, dataKey);
  }

  unwrap(wrapped: string, context: string, version: number): Buffer {
    return openBytes(this.masterKey(version), `kek.v${version}.${context}`, wrapped);
  }

  async addVersion(): Promise<number> {
    const version = this.currentVersion() + 1;
    this.material = {
      ...this.material,
      masterKeys: [
        ...this.material.masterKeys,
        { version, key: randomBytes(32).toString('base64'), createdAt: new Date().toISOString() },
      ],
    };
    this.save(this.material);
    return version;
  }

  async retireVersion(version: number): Promise<void> {
    if (version === this.currentVersion()) throw new Error('The current master key cannot be retired.');
    this.material = {
      ...this.material,
      masterKeys: this.material.masterKeys.map((k) =>
        k.version === version ? { ...k, retiredAt: new Date().toISOString() } : k,
      ),
    };
    this.save(this.material);
  }

  blindIndexKey(): Buffer {
    return Buffer.from(this.material.blindIndexKey, 'base64');
  }

  systemKey(): Buffer {
    return Buffer.from(this.material.systemKey, 'base64');
  }
}

export function keyFilePath(): string {
  return path.resolve(process.env.VIGIL_KEY_FILE ?? path.join('.data', 'keys.json'));
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

export function loadKeyFileProvider(file = keyFilePath()): KeyProvider {
  if (!existsSync(file)) {
    throw new Error(
      `No master key file at ${file}. Run "npm run demo" once, or set VIGIL_KEY_FILE or VIGIL_MASTER_KEYS.`,
    );
  }
  const material = keyFileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  return new StaticKeyProvider(material, `file:${file}`, (m) => writeKeyFile(file, m));
}

/** VIGIL_MASTER_KEYS holds the same JSON as the key file (for secret managers that inject env). */
function loadEnvProvider(json: string): KeyProvider {
  const material = keyFileSchema.parse(JSON.parse(json));
  return new StaticKeyProvider(material, 'env', () => {
    throw new Error('Keys from VIGIL_MASTER_KEYS are read-only: rotate them in your secret manager.');
  });
}

const globalForKeys = globalThis as unknown as { vigilKeyProvider?: KeyProvider };

export function getKeyProvider(): KeyProvider {
  globalForKeys.vigilKeyProvider ??= process.env.VIGIL_MASTER_KEYS
    ? loadEnvProvider(process.env.VIGIL_MASTER_KEYS)
    : loadKeyFileProvider();
  return globalForKeys.vigilKeyProvider;
}

export function setKeyProvider(provider: KeyProvider | undefined): void {
  globalForKeys.vigilKeyProvider = provider;
}
