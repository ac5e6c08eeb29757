import 'server-only';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync, readFileSync, statSync } from 'node:fs';
import type * as Pkcs11Module from 'pkcs11js';
import { DecryptionError } from '@/lib/platform/crypto/envelope';
import { KeysUnavailableError } from '@/lib/platform/crypto/keys-unavailable';

// The native addon is loaded at run time, not bundled: Next and tsx must not try to inline it.
const pkcs11js = createRequire(import.meta.url)('pkcs11js') as typeof Pkcs11Module;

export interface TokenConfig {
  /** Path of the vendor's PKCS#11 module (.so). */
  module: string;
  /** The token's label; or `slot` picks a slot by its index in the list of slots with a token. */
  tokenLabel?: string;
  slot?: number;
  /** The user PIN, or a file holding it (mode 0600, checked). */
  pin?: string;
  pinFile?: string;
}

const GCM_IV_BYTES = 12;
const GCM_TAG_BITS = 128;

/** One PKCS#11 library per module path for the whole process: C_Initialize runs once. */
const globalForModules = globalThis as unknown as { vigilPkcs11Modules?: Map<string, Pkcs11Module.PKCS11> };
const modules = (globalForModules.vigilPkcs11Modules ??= new Map());

function library(path: string): Pkcs11Module.PKCS11 {
  let lib = modules.get(path);
  if (lib) return lib;
  if (!existsSync(path)) throw new KeysUnavailableError('module_missing');
  lib = new pkcs11js.PKCS11();
  try {
    lib.load(path);
    lib.C_Initialize();
  } catch (error) {
    if (!codeIs(error, 'CKR_CRYPTOKI_ALREADY_INITIALIZED')) throw new KeysUnavailableError('module_missing');
  }
  modules.set(path, lib);
  return lib;
}

function codeIs(error: unknown, name: string): boolean {
  return error instanceof Error && error.message.startsWith(name);
}

/** The PIN from the file or the variable; a PIN file others can read is refused, not used. */
function readPin(config: TokenConfig): string {
  if (config.pinFile) {
    let mode: number;
    try {
      mode = statSync(config.pinFile).mode & 0o777;
    } catch {
      throw new KeysUnavailableError('pin_missing');
    }
    if ((mode & 0o077) !== 0) throw new KeysUnavailableError('pin_file_insecure');
    return readFileSync(config.pinFile, 'utf8').trim();
  }
  if (config.pin) return config.pin;
  throw new KeysUnavailableError('pin_missing');
}

/**
 * A logged-in session on one token, and the few operations Vigil asks of it. Secret keys made
 * here are token objects that are sensitive and never extractable: their bytes cannot be read or
 * wrapped out, and these attributes cannot be changed back (the token refuses).
 */
export class TokenSession {
  private constructor(
    private readonly lib: Pkcs11Module.PKCS11,
    private readonly session: Buffer,
    readonly label: string,
  ) {}

  static open(config: TokenConfig): TokenSession {
    const lib = library(config.module);
    const slots = lib.C_GetSlotList(true);
    let slot: Buffer | undefined;
    let label = '';
    if (config.tokenLabel !== undefined) {
      for (const candidate of slots) {
        const found = lib.C_GetTokenInfo(candidate).label.trim();
        if (found === config.tokenLabel) {
          slot = candidate;
          label = found;
          break;
        }
      }
    } else if (config.slot !== undefined) {
      slot = slots[config.slot];
      if (slot) label = lib.C_GetTokenInfo(slot).label.trim();
    }
    if (!slot) throw new KeysUnavailableError('token_missing');
    const pin = readPin(config);
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION);
    try {
      lib.C_Login(session, pkcs11js.CKU_USER, pin);
    } catch (error) {
      // Login is per process, not per session: another session of ours already gave the PIN.
      if (codeIs(error, 'CKR_USER_ALREADY_LOGGED_IN')) return new TokenSession(lib, session, label);
      lib.C_CloseSession(session);
      if (codeIs(error, 'CKR_PIN_LOCKED')) throw new KeysUnavailableError('pin_locked');
      if (codeIs(error, 'CKR_PIN_INCORRECT') || codeIs(error, 'CKR_PIN_LEN_RANGE')) throw new KeysUnavailableError('wrong_pin');
      throw new KeysUnavailableError('token_missing');
    }
    return new TokenSession(lib, session, label);
  }

  /** Whether the token still answers: tells a damaged ciphertext from a token gone away. */
  alive(): boolean {
    try {
      this.lib.C_GetSessionInfo(this.session);
      return true;
    } catch {
      return false;
    }
  }

  /** Tests only: ends this process's login, so the next open must give the PIN again. */
  static logOut(config: TokenConfig): void {
    const session = TokenSession.open(config);
    try {
      session.lib.C_Logout(session.session);
    } finally {
      session.close();
    }
  }

  close(): void {
    try {
      // Not C_Logout: that would log out every other session of this process too.
      this.lib.C_CloseSession(this.session);
    } catch {
      // Already gone with the token.
    }
  }

  private find(template: Pkcs11Module.Template): Buffer[] {
    try {
      this.lib.C_FindObjectsInit(this.session, template);
      try {
        return this.lib.C_FindObjects(this.session, 100);
      } finally {
        this.lib.C_FindObjectsFinal(this.session);
      }
    } catch {
      throw new KeysUnavailableError('token_missing');
    }
  }

  findSecretKey(label: string): Buffer | undefined {
    return this.find([
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_LABEL, value: label },
    ])[0];
  }

  /** A new non-extractable AES-256 key, made inside the token. */
  generateAesKey(label: string): Buffer {
    return this.lib.C_GenerateKey(this.session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
      ...aesKeyTemplate(label),
      { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
    ]);
  }

  /** Tests only: an AES key of known bytes, imported under the same attributes. */
  importAesKey(label: string, value: Buffer): Buffer {
    return this.lib.C_CreateObject(this.session, [...aesKeyTemplate(label), { type: pkcs11js.CKA_VALUE, value }]);
  }

  attributes(key: Buffer): { extractable: boolean; sensitive: boolean; neverExtractable: boolean } {
    const [extractable, sensitive, never] = this.lib.C_GetAttributeValue(this.session, key, [
      { type: pkcs11js.CKA_EXTRACTABLE },
      { type: pkcs11js.CKA_SENSITIVE },
      { type: pkcs11js.CKA_NEVER_EXTRACTABLE },
    ]);
    const bool = (a: Pkcs11Module.Attribute | undefined) => Buffer.isBuffer(a?.value) && a.value[0] === 1;
    return { extractable: bool(extractable), sensitive: bool(sensitive), neverExtractable: bool(never) };
  }

  /** Tests only: asks the token for the key's bytes; a sound token refuses. */
  readKeyValue(key: Buffer): Buffer {
    const [value] = this.lib.C_GetAttributeValue(this.session, key, [{ type: pkcs11js.CKA_VALUE }]);
    return value?.value as Buffer;
  }

  /** Tests only: asks the token to make the key extractable; a sound token refuses. */
  makeExtractable(key: Buffer): void {
    this.lib.C_SetAttributeValue(this.session, key, [{ type: pkcs11js.CKA_EXTRACTABLE, value: true }]);
  }

  /** AES-256-GCM inside the token, bound to `aad`: iv ‖ ciphertext ‖ tag. */
  encrypt(key: Buffer, aad: string, plaintext: Buffer): Buffer {
    const iv = randomBytes(GCM_IV_BYTES);
    try {
      this.lib.C_EncryptInit(this.session, gcm(iv, aad), key);
      const out = this.lib.C_Encrypt(this.session, plaintext, Buffer.alloc(plaintext.length + GCM_TAG_BITS / 8));
      return Buffer.concat([iv, out]);
    } catch {
      throw new KeysUnavailableError('token_missing');
    }
  }

  decrypt(key: Buffer, aad: string, sealed: Buffer, context: string): Buffer {
    if (sealed.length < GCM_IV_BYTES + GCM_TAG_BITS / 8) throw new DecryptionError(context);
    try {
      this.lib.C_DecryptInit(this.session, gcm(sealed.subarray(0, GCM_IV_BYTES), aad), key);
      return this.lib.C_Decrypt(this.session, sealed.subarray(GCM_IV_BYTES), Buffer.alloc(sealed.length));
    } catch {
      // SoftHSM answers a failed tag with CKR_GENERAL_ERROR: ask the token whether it is still
      // there before calling the ciphertext damaged.
      if (this.alive()) throw new DecryptionError(context);
      throw new KeysUnavailableError('token_missing');
    }
  }

  private dataObject(label: string): Buffer | undefined {
    return this.find([
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_DATA },
      { type: pkcs11js.CKA_LABEL, value: label },
    ])[0];
  }

  /** A private data object's value (readable only after login), or undefined. */
  readData(label: string): Buffer | undefined {
    const handle = this.dataObject(label);
    if (!handle) return undefined;
    const [value] = this.lib.C_GetAttributeValue(this.session, handle, [{ type: pkcs11js.CKA_VALUE }]);
    return value?.value as Buffer;
  }

  /** Replaces a private data object: created new, then the old one destroyed. */
  writeData(label: string, value: Buffer): void {
    const old = this.dataObject(label);
    this.lib.C_CreateObject(this.session, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_DATA },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_LABEL, value: label },
      { type: pkcs11js.CKA_VALUE, value },
    ]);
    if (old) this.lib.C_DestroyObject(this.session, old);
  }
}

function aesKeyTemplate(label: string): Pkcs11Module.Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_MODIFIABLE, value: true },
    { type: pkcs11js.CKA_ENCRYPT, value: true },
    { type: pkcs11js.CKA_DECRYPT, value: true },
    { type: pkcs11js.CKA_WRAP, value: false },
    { type: pkcs11js.CKA_UNWRAP, value: false },
    { type: pkcs11js.CKA_LABEL, value: label },
  ];
}

function gcm(iv: Buffer, aad: string): Pkcs11Module.Mechanism {
  const parameter: Pkcs11Module.AesGCM = {
    type: pkcs11js.CK_PARAMS_AES_GCM,
    iv,
    aad: Buffer.from(aad, 'utf8'),
    ivBits: GCM_IV_BYTES * 8,
    tagBits: GCM_TAG_BITS,
  };
  return { mechanism: pkcs11js.CKM_AES_GCM, parameter };
}
