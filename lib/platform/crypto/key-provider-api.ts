import 'server-only';

/** One master key version as the lifecycle page shows it: never the key itself. */
export interface MasterKeyInfo {
  version: number;
  /** Where it lives: the key file, the environment, or the token and the object's label. */
  location: string;
  createdAt: string;
  retiredAt?: string;
}

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
  describe(): MasterKeyInfo[];
  /** Throws KeysUnavailableError when a remote store (a token) no longer answers. */
  probe?(): void;
  wrap(dataKey: Buffer, context: string, version?: number): string;
  unwrap(wrapped: string, context: string, version: number): Buffer;
  /** Creates a new master key version, which becomes current. */
  addVersion(): Promise<number>;
  /**
   * Marks a version retired: never used for new wraps, kept for unwrapping until an operator
   * removes it. Resolves false when it was already retired.
   */
  retireVersion(version: number): Promise<boolean>;
  /** HMAC key for blind indexes: never used to encrypt. */
  blindIndexKey(): Buffer;
  /** Key for server secrets that belong to no patient (TOTP secrets). */
  systemKey(): Buffer;
}
