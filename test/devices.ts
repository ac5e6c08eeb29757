/**
 * Device feeds as tests drive them: a signing key pair the way a device vendor makes one, a
 * patient's MRN as the admin would type it, and a client issued for some patients with the
 * identity a device keeps (bench/load/client.ts seals readings with it, as a real device would).
 */
import { generateKeyPairSync } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { importJWK, type JWK } from 'jose';
import type { Db } from '@/db/client';
import { patients } from '@/db/schema';
import type { Demographics } from '@/lib/domain/chart/sections';
import type { Viewer } from '@/lib/domain/access/viewer';
import { getPatientCipher } from '@/lib/platform/crypto';
import { issueApiClient, portalPublicJwk } from '@/lib/features/devices/api-clients';
import { sealReading, type DeviceIdentity } from '@/bench/load/client';

/** A fresh device key: the public JWK an admin pastes, and the private JWK the device keeps. */
export function deviceKeyPair(type: 'ed25519' | 'p256' = 'ed25519'): { publicJwk: Record<string, string>; privateJwk: JWK } {
  const { publicKey, privateKey } = type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { publicJwk: publicKey.export({ format: 'jwk' }) as Record<string, string>, privateJwk: privateKey.export({ format: 'jwk' }) as JWK };
}

/** The MRN of a patient, read from their sealed demographics. */
export async function mrnOf(db: Db, patientId: string): Promise<string> {
  const [row] = await db.select({ sealed: patients.sealedDemographics }).from(patients).where(eq(patients.id, patientId));
  const { cipher } = await getPatientCipher(db, patientId);
  if (!row || !cipher) throw new Error('No such patient.');
  return cipher.open<Demographics>('patients', 'sealed_demographics', patientId, row.sealed).mrn;
}

export interface IssuedDevice extends DeviceIdentity {
  clientId: string;
}

/** Issues a client serving these patients, with a new key pair; throws if the admin is refused. */
export async function issueDevice(db: Db, admin: Viewer, name: string, patientIds: string[]): Promise<IssuedDevice> {
  const keys = deviceKeyPair();
  const mrns = await Promise.all(patientIds.map((id) => mrnOf(db, id)));
  const issued = await issueApiClient(admin, { name, signingKey: keys.publicJwk, patients: mrns.join('\n') });
  if (!issued.ok) throw new Error(issued.message);
  return { clientId: issued.value.client.id, credential: issued.value.credential, signingJwk: keys.privateJwk };
}

/** A reading sealed the way the device sends it, to this portal's key (claims overridable). */
export async function sealed(device: DeviceIdentity, payload: { patientId: string; vitals: unknown }, claims?: Parameters<typeof sealReading>[3], portalJwk: JWK = portalPublicJwk()) {
  return sealReading(device, await importJWK(portalJwk, 'ECDH-ES+A256KW'), payload, claims);
}
