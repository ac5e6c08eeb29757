import 'server-only';
import { importJWK, type CryptoKey, type JWK } from 'jose';
import { z } from 'zod';

/**
 * The public key a device signs its readings with, as the administrator pastes it when issuing
 * the client: a JWK of an Ed25519 (EdDSA) or P-256 (ES256) key. Only the public half is ever
 * accepted, so Vigil never holds what would let it, or anyone reading its database, forge a
 * device's reading; a pasted private key is refused with a plain message rather than stored.
 */
const message = 'Paste the device’s public signing key as a JWK (Ed25519 or P-256).';
const base64url = z.string().regex(/^[A-Za-z0-9_-]{32,128}$/, message);

const ed25519 = z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: base64url });
const p256 = z.object({ kty: z.literal('EC'), crv: z.literal('P-256'), x: base64url, y: base64url });

export type SigningKey = z.infer<typeof ed25519> | z.infer<typeof p256>;

export const signingKeySchema = z.preprocess(
  (raw) => {
    if (typeof raw !== 'string') return raw;
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  },
  z
    .looseObject({})
    .refine((jwk) => !('d' in jwk), 'That is a private key. Paste only the public key; the private key stays on the device.')
    // Keep only the public members: nothing else of what was pasted is stored.
    .pipe(z.union([ed25519, p256], message)),
) as z.ZodType<SigningKey>;

export const signingAlgorithm = (key: SigningKey): 'EdDSA' | 'ES256' => (key.kty === 'OKP' ? 'EdDSA' : 'ES256');

/** The key as jose verifies with it; a stored key that no longer parses is no key (fail closed). */
export async function verificationKey(stored: unknown): Promise<{ key: CryptoKey | Uint8Array; algorithm: 'EdDSA' | 'ES256' } | null> {
  const parsed = signingKeySchema.safeParse(stored);
  if (!parsed.success) return null;
  const algorithm = signingAlgorithm(parsed.data);
  return { key: await importJWK(parsed.data as JWK, algorithm), algorithm };
}
