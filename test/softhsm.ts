/**
 * The SoftHSM token scripts/ensure-softhsm.sh made for this run, as test set-up sees it. With
 * VIGIL_TEST_KEY_PROVIDER=pkcs11, `installTestKeys()` (test/fixtures.ts) gives each test file
 * master keys of its own in the token (a fresh object prefix), so the crypto, rotation, shred and
 * chart tests run unchanged on the PKCS#11 code path a hospital's HSM takes.
 */
import { randomBytes } from 'node:crypto';
import { Pkcs11KeyProvider, type Pkcs11Options } from '@/lib/platform/crypto/pkcs11/provider';
import type { TokenConfig } from '@/lib/platform/crypto/pkcs11/token';

/** The run's token, or undefined when the set-up made none (SoftHSM tests then fail, not skip). */
export function testToken(): TokenConfig | undefined {
  const modulePath = process.env.VIGIL_TEST_PKCS11_MODULE;
  const tokenLabel = process.env.VIGIL_TEST_PKCS11_TOKEN_LABEL;
  const pinFile = process.env.VIGIL_TEST_PKCS11_PIN_FILE;
  if (!modulePath || !tokenLabel || !pinFile) return undefined;
  return { module: modulePath, tokenLabel, pinFile };
}

export function requireTestToken(): TokenConfig {
  const token = testToken();
  if (!token) throw new Error('No SoftHSM token: run the tests through `npm test`, or eval "$(bash scripts/ensure-softhsm.sh)" first.');
  return token;
}

export const testsRunOnToken = () => process.env.VIGIL_TEST_KEY_PROVIDER === 'pkcs11';

/** A provider on the test token whose objects no other test file sees. */
export function freshTokenProvider(options: Partial<Pkcs11Options> = {}): Pkcs11KeyProvider {
  const provider = Pkcs11KeyProvider.open({ ...requireTestToken(), prefix: `t-${randomBytes(6).toString('hex')}`, ...options });
  provider.initialise();
  return provider;
}
