import 'server-only';
import { createPrivateKey, createPublicKey, hkdfSync, type KeyObject } from 'node:crypto';
import { compactDecrypt, type JWK } from 'jose';
import { getKeyProvider } from '@/lib/platform/crypto/key-provider';

/**
 * The portal's key agreement pair for message-level encryption of machine API payloads (JWE,
 * ECDH-ES+A256KW over X25519, A256GCM content). It is derived from the key store's system key
 * with its own HKDF label, so it lives wherever the master keys live (key file, environment,
 * later a KMS) and never in the database; rotating the system key rotates it.
 */
export const PORTAL_JWE_ALG = 'ECDH-ES+A256KW';
export const PORTAL_JWE_ENC = 'A256GCM';
const KEY_LABEL = 'vigil.portal-jwe.x25519.v1';
// PKCS#8 prefix for a raw X25519 private key (RFC 8410): any 32 bytes are a valid key.
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

interface PortalKeyPair {
  privateKey: KeyObject;
  publicJwk: JWK;
}
let cached: { systemKey: string; pair: PortalKeyPair } | undefined;

function portalKeyPair(): PortalKeyPair {
  const systemKey = getKeyProvider().systemKey();
  const fingerprint = systemKey.toString('base64');
  if (cached?.systemKey === fingerprint) return cached.pair;
  const seed = Buffer.from(hkdfSync('sha256', systemKey, Buffer.alloc(0), KEY_LABEL, 32));
  const privateKey = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  const publicJwk: JWK = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, use: 'enc', alg: PORTAL_JWE_ALG, kid: KEY_LABEL };
  cached = { systemKey: fingerprint, pair: { privateKey, publicJwk } };
  return cached.pair;
}

/** The public key device feeds encrypt to (published at GET /api/phi/key). */
export function portalPublicJwk(): JWK {
  return portalKeyPair().publicJwk;
}

/**
 * Opens a compact JWE addressed to the portal. Only the one algorithm pair is accepted (no
 * downgrade to `dir` or RSA1_5); anything else — malformed, wrong key, tampered — throws.
 */
export async function openPortalJwe(compact: string): Promise<Uint8Array> {
  const { plaintext } = await compactDecrypt(compact, portalKeyPair().privateKey, {
    keyManagementAlgorithms: [PORTAL_JWE_ALG],
    contentEncryptionAlgorithms: [PORTAL_JWE_ENC],
  });
  return plaintext;
}
