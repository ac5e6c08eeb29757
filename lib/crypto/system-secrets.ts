import 'server-only';
import { openJson, sealJson } from './envelope';
import { getKeyProvider } from './key-provider';

/** Seals secrets that belong to a user, not a patient (TOTP secrets), with the system key. */
export function sealUserSecret(userId: string, purpose: string, value: string): string {
  return sealJson(getKeyProvider().systemKey(), `users.${purpose}.${userId}`, value);
}

export function openUserSecret(userId: string, purpose: string, sealed: string): string {
  return openJson<string>(getKeyProvider().systemKey(), `users.${purpose}.${userId}`, sealed);
}
