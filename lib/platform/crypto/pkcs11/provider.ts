import 'server-only';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { KeyProvider, MasterKeyInfo } from '@/lib/platform/crypto/key-provider-api';
import { noteKeyAccess } from '@/lib/platform/crypto/key-access-log';
import { KeysUnavailableError } from '@/lib/platform/crypto/keys-unavailable';
import { TokenSession, type TokenConfig } from '@/lib/platform/crypto/pkcs11/token';

/**
 * Master keys in a PKCS#11 token (an HSM; SoftHSM in tests). Each master key version is an
 * AES-256 key generated inside the token, sensitive and never extractable; a data key is wrapped
 * by AES-256-GCM encryption inside the token, with the patient's wrap context as associated data
 * (so a wrapped key copied to another patient does not open), and unwrapped the same way. The
 * master key bytes never enter this process.
 *
 * The blind-index and system keys are HMAC and field keys the portal uses thousands of times a
 * second (every search, every audit entry), so they are held in memory like an unwrapped data
 * key; at rest they exist only encrypted under a token key of their own, in a private data
 * object of the token (the key register), so neither a copy of the database nor of the disk holds
 * them. Moving from a key file keeps their values (existing blind indexes and the audit chain
 * stay valid): `importSecrets` encrypts the file's into the token.
 *
 * During a migration from a key file the `legacy` provider answers for the versions the token
 * does not hold; new versions and new wraps always go to the token.
 */
export interface Pkcs11Options extends TokenConfig {
  /** Names this installation's objects in the token, so several can share one. */
  prefix?: string;
  legacy?: KeyProvider;
}

const registerSchema = z.object({
  versions: z.array(z.object({ version: z.number().int().positive(), createdAt: z.string(), retiredAt: z.string().optional() })),
  /** Key-file versions retired once every data key moved into the token (the file then goes). */
  legacyRetired: z.array(z.object({ version: z.number().int().positive(), retiredAt: z.string() })).default([]),
  /** base64 of the token-encrypted JSON {blindIndexKey, systemKey}. */
  secrets: z.string().optional(),
});
type Register = z.infer<typeof registerSchema>;
const secretsSchema = z.object({ blindIndexKey: z.string(), systemKey: z.string() });

const SECRETS_AAD = 'vigil.secrets.v1';

export class Pkcs11KeyProvider implements KeyProvider {
  readonly name: string;
  private register: Register;
  private readonly handles = new Map<number, Buffer>();
  private secrets: { blindIndexKey: Buffer; systemKey: Buffer } | undefined;

  private constructor(
    private readonly token: TokenSession,
    private readonly prefix: string,
    private readonly legacy: KeyProvider | undefined,
  ) {
    this.name = `pkcs11:${token.label}`;
    this.register = this.readRegister();
  }

  /** Opens the token and logs in; throws KeysUnavailableError naming the cause. */
  static open(options: Pkcs11Options): Pkcs11KeyProvider {
    return new Pkcs11KeyProvider(TokenSession.open(options), options.prefix ?? 'vigil', options.legacy);
  }

  /** The token session, for the tests that read key attributes and the lifecycle page. */
  get session(): TokenSession {
    return this.token;
  }

  kekLabel(version: number): string {
    return `${this.prefix}-kek-v${version}`;
  }

  private readRegister(): Register {
    const raw = this.token.readData(`${this.prefix}-register`);
    if (!raw) return { versions: [], legacyRetired: [] };
    const parsed = registerSchema.safeParse(JSON.parse(raw.toString('utf8')));
    if (!parsed.success) throw new KeysUnavailableError('store_uninitialised');
    return parsed.data;
  }

  private saveRegister(next: Register): void {
    this.token.writeData(`${this.prefix}-register`, Buffer.from(JSON.stringify(next), 'utf8'));
    this.register = next;
  }

  /** A fresh token: version 1 and new secrets, unless a key file is being moved in. */
  initialise(): boolean {
    if (this.register.versions.length > 0 || this.legacy) return false;
    this.saveSecrets({ blindIndexKey: randomBytes(32), systemKey: randomBytes(32) });
    this.createVersion(1);
    return true;
  }

  /** Copies the key file's blind-index and system keys into the token (once). */
  importSecrets(): boolean {
    if (this.register.secrets) return false;
    if (!this.legacy) throw new KeysUnavailableError('store_uninitialised');
    this.saveSecrets({ blindIndexKey: this.legacy.blindIndexKey(), systemKey: this.legacy.systemKey() });
    return true;
  }

  private saveSecrets(values: { blindIndexKey: Buffer; systemKey: Buffer }): void {
    const kek = this.token.findSecretKey(`${this.prefix}-secrets-kek`) ?? this.token.generateAesKey(`${this.prefix}-secrets-kek`);
    const json = JSON.stringify({ blindIndexKey: values.blindIndexKey.toString('base64'), systemKey: values.systemKey.toString('base64') });
    const sealed = this.token.encrypt(kek, SECRETS_AAD, Buffer.from(json, 'utf8'));
    this.saveRegister({ ...this.register, secrets: sealed.toString('base64') });
    this.secrets = values;
  }

  private loadSecrets(): { blindIndexKey: Buffer; systemKey: Buffer } | undefined {
    if (this.secrets) return this.secrets;
    if (!this.register.secrets) return undefined;
    const kek = this.token.findSecretKey(`${this.prefix}-secrets-kek`);
    if (!kek) throw new KeysUnavailableError('store_uninitialised');
    const json = this.token.decrypt(kek, SECRETS_AAD, Buffer.from(this.register.secrets, 'base64'), 'key register');
    const parsed = secretsSchema.parse(JSON.parse(json.toString('utf8')));
    this.secrets = { blindIndexKey: Buffer.from(parsed.blindIndexKey, 'base64'), systemKey: Buffer.from(parsed.systemKey, 'base64') };
    noteKeyAccess('secrets_load');
    return this.secrets;
  }

  /**
   * A version's key already in the token under its label (made with the HSM's own tools, say at
   * a key ceremony) is adopted rather than duplicated, but only if the token keeps it sensitive
   * and never extractable: a key that could be read out is refused.
   */
  private createVersion(version: number): void {
    const existing = this.token.findSecretKey(this.kekLabel(version));
    if (existing) {
      const { extractable, sensitive } = this.token.attributes(existing);
      if (extractable || !sensitive) throw new KeysUnavailableError('misconfigured');
    } else {
      this.token.generateAesKey(this.kekLabel(version));
    }
    this.saveRegister({ ...this.register, versions: [...this.register.versions, { version, createdAt: new Date().toISOString() }] });
  }

  private tokenVersions(): number[] {
    return this.register.versions.map((v) => v.version);
  }

  /** Whether this version's master key is in the token (not the key file being moved in). */
  inToken(version: number): boolean {
    return this.holds(version);
  }

  private holds(version: number): boolean {
    if (this.tokenVersions().includes(version)) return true;
    // Another process (keys:rotate) may have added it since this one read the register.
    this.register = this.readRegister();
    return this.tokenVersions().includes(version);
  }

  private kek(version: number): Buffer {
    let handle = this.handles.get(version);
    if (!handle) {
      handle = this.token.findSecretKey(this.kekLabel(version));
      if (!handle) throw new KeysUnavailableError('key_version_missing', version);
      this.handles.set(version, handle);
    }
    return handle;
  }

  currentVersion(): number {
    const own = this.tokenVersions();
    if (own.length > 0) return Math.max(...own);
    if (this.legacy) return this.legacy.currentVersion();
    throw new KeysUnavailableError('store_uninitialised');
  }

  versions(): number[] {
    return [...new Set([...(this.legacy?.versions() ?? []), ...this.tokenVersions()])].sort((a, b) => a - b);
  }

  describe(): MasterKeyInfo[] {
    const own = this.register.versions.map((v) => ({ ...v, location: `token ${this.token.label} (${this.kekLabel(v.version)})` }));
    const legacy = (this.legacy?.describe() ?? [])
      .filter((v) => !this.tokenVersions().includes(v.version))
      .map((v) => {
        const retired = this.register.legacyRetired.find((r) => r.version === v.version);
        return retired && !v.retiredAt ? { ...v, retiredAt: retired.retiredAt } : v;
      });
    return [...legacy, ...own].sort((a, b) => a.version - b.version);
  }

  wrap(dataKey: Buffer, context: string, version = this.currentVersion()): string {
    if (!this.holds(version)) {
      if (this.legacy?.versions().includes(version)) return this.legacy.wrap(dataKey, context, version);
      throw new KeysUnavailableError('key_version_missing', version);
    }
    return this.token.encrypt(this.kek(version), `kek.v${version}.${context}`, dataKey).toString('base64url');
  }

  unwrap(wrapped: string, context: string, version: number): Buffer {
    if (!this.holds(version)) {
      if (this.legacy?.versions().includes(version)) return this.legacy.unwrap(wrapped, context, version);
      throw new KeysUnavailableError('key_version_missing', version);
    }
    return this.token.decrypt(this.kek(version), `kek.v${version}.${context}`, Buffer.from(wrapped, 'base64url'), context);
  }

  async addVersion(): Promise<number> {
    this.register = this.readRegister();
    const version = Math.max(0, ...this.versions()) + 1;
    this.createVersion(version);
    noteKeyAccess('add_version', { version });
    return version;
  }

  async retireVersion(version: number): Promise<boolean> {
    this.register = this.readRegister();
    if (version === this.currentVersion()) throw new Error('The current master key cannot be retired.');
    const entry = this.register.versions.find((v) => v.version === version);
    if (!entry) {
      if (!this.legacy?.versions().includes(version)) throw new KeysUnavailableError('key_version_missing', version);
      // Recorded here, not in the file: the file's own newest version is retired too.
      if (this.register.legacyRetired.some((v) => v.version === version)) return false;
      this.saveRegister({ ...this.register, legacyRetired: [...this.register.legacyRetired, { version, retiredAt: new Date().toISOString() }] });
      noteKeyAccess('retire_version', { version });
      return true;
    }
    if (entry.retiredAt) return false;
    this.saveRegister({
      ...this.register,
      versions: this.register.versions.map((v) => (v.version === version ? { ...v, retiredAt: new Date().toISOString() } : v)),
    });
    noteKeyAccess('retire_version', { version });
    return true;
  }

  blindIndexKey(): Buffer {
    const secrets = this.loadSecrets();
    if (secrets) return secrets.blindIndexKey;
    if (this.legacy) return this.legacy.blindIndexKey();
    throw new KeysUnavailableError('store_uninitialised');
  }

  systemKey(): Buffer {
    const secrets = this.loadSecrets();
    if (secrets) return secrets.systemKey;
    if (this.legacy) return this.legacy.systemKey();
    throw new KeysUnavailableError('store_uninitialised');
  }

  /** Whether the token holds the secrets and every version itself (the key file can go). */
  selfContained(): boolean {
    return Boolean(this.register.secrets) && this.tokenVersions().length > 0;
  }

  probe(): void {
    if (!this.token.alive()) throw new KeysUnavailableError('token_missing');
  }

  close(): void {
    this.token.close();
  }
}
