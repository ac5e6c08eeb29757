import 'server-only';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { z } from 'zod';
import { openPortalJwe } from '@/lib/platform/crypto/portal-jwe';
import { now as clockNow } from '@/lib/platform/clock';
import { verificationKey } from '@/lib/features/devices/signing-key';

/**
 * A device's reading as it travels: signed, then encrypted. The JWE (to the portal's key, see
 * lib/platform/crypto/portal-jwe.ts) keeps it confidential; the compact JWS inside it, made with
 * the client's own private key, proves which client sent it, so a stolen bearer credential or a
 * party that only knows the portal's public key cannot write vitals. The signed claims bind the
 * message to its sender (`iss`, the client id), to this endpoint (`aud`), to a short window
 * (`iat`, `exp`) and to a message id (`jti`) that the endpoint accepts once.
 */
export const READING_AUDIENCE = 'urn:vigil:api:phi:vitals';
/** How long a signed reading stays acceptable: long enough for a retry, short enough that the used-id store stays small. */
export const MESSAGE_WINDOW_SECONDS = 5 * 60;
/** Clock drift between a device and the portal that is forgiven, in seconds. */
const CLOCK_TOLERANCE_SECONDS = 30;

const claims = z.object({
  jti: z.string().regex(/^[A-Za-z0-9._:-]{8,128}$/),
  iat: z.number().int(),
  exp: z.number().int(),
  patientId: z.string(),
  vitals: z.unknown(),
});
export interface SignedReading {
  jti: string;
  /** When the message stops being acceptable; its id is remembered until then. */
  expiresAt: Date;
  patientId: string;
  vitals: unknown;
}

export type MessageRefusal = 'undecryptable' | 'unsigned' | 'stale' | 'invalid';

/** Opens, verifies and checks the window of one message from `client`; the reason when it cannot be trusted. */
export async function openSignedReading(
  compactJwe: string,
  client: { id: string; signingKey: unknown },
): Promise<{ ok: true; reading: SignedReading } | { ok: false; reason: MessageRefusal }> {
  let jws: string;
  try {
    jws = new TextDecoder().decode(await openPortalJwe(compactJwe));
  } catch {
    return { ok: false, reason: 'undecryptable' };
  }
  const key = await verificationKey(client.signingKey);
  if (!key) return { ok: false, reason: 'unsigned' };
  let payload: unknown;
  try {
    if (decodeProtectedHeader(jws).alg !== key.algorithm) return { ok: false, reason: 'unsigned' };
    ({ payload } = await jwtVerify(jws, key.key, {
      algorithms: [key.algorithm],
      issuer: client.id,
      audience: READING_AUDIENCE,
      requiredClaims: ['jti', 'iat', 'exp'],
      maxTokenAge: MESSAGE_WINDOW_SECONDS,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: clockNow(),
    }));
  } catch (error) {
    // Outside the window is `stale`; a bad signature, or one meant for another sender or endpoint, is `unsigned`.
    const { code, claim } = error as { code?: string; claim?: string };
    const outsideWindow = code === 'ERR_JWT_EXPIRED' || (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && (claim === 'iat' || claim === 'nbf'));
    return { ok: false, reason: outsideWindow ? 'stale' : 'unsigned' };
  }
  const parsed = claims.safeParse(payload);
  if (!parsed.success) return { ok: false, reason: 'invalid' };
  const { jti, iat, exp, patientId, vitals } = parsed.data;
  // A far-off `exp` would keep a message replayable-looking and its id stored for ever.
  if (exp - iat > MESSAGE_WINDOW_SECONDS) return { ok: false, reason: 'stale' };
  return { ok: true, reading: { jti, expiresAt: new Date((exp + CLOCK_TOLERANCE_SECONDS) * 1000), patientId, vitals } };
}
