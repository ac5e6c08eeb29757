import 'server-only';

export { DecryptionError, sealContext } from '@/lib/platform/crypto/envelope';
export {
  createPatientKey,
  evictDataKey,
  getPatientCipher,
  getPatientCiphers,
  newPatientKey,
  patientKeyMaker,
  onDataKeyUnwrap,
  shredPatientKey,
  type CipherLookup,
  type DataKeyUnwrapListener,
  type NewPatientKey,
  type PatientCipher,
} from '@/lib/platform/crypto/data-keys';
export { blindIndex, blindIndexBits, normaliseName, normaliseMrn, LAST_NAME_PREFIX_LENGTH } from '@/lib/platform/crypto/blind-index';
export { ensureKeyFile, getKeyProvider, setKeyProvider, type KeyProvider } from '@/lib/platform/crypto/key-provider';
export { openSystemField, openUserSecret, sealSystemField, sealUserSecret, systemDigest, systemSubkey } from '@/lib/platform/crypto/system-secrets';
