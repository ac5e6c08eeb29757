import 'server-only';

export { DecryptionError, sealContext } from './envelope';
export {
  createPatientKey,
  evictDataKey,
  getPatientCipher,
  getPatientCiphers,
  newPatientKey,
  onDataKeyUnwrap,
  shredPatientKey,
  type CipherLookup,
  type DataKeyUnwrapListener,
  type PatientCipher,
} from './data-keys';
export { blindIndex, blindIndexBits, normaliseName, normaliseMrn, LAST_NAME_PREFIX_LENGTH } from './blind-index';
export { ensureKeyFile, getKeyProvider, setKeyProvider, type KeyProvider } from './key-provider';
export { openSystemField, openUserSecret, sealSystemField, sealUserSecret, systemDigest } from './system-secrets';
