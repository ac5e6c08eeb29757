import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DecryptionError, ENVELOPE_VERSION, openBytes, openJson, sealBytes, sealContext, sealJson } from '@/lib/platform/crypto/envelope';

const key = randomBytes(32);
const secret = { givenName: 'Zoë', familyName: 'Dvořák', note: 'Synthetic: reports chest pain since Tuesday.' };
const here = sealContext('progress_notes', 'sealed_body', '7d0c1b9e-3f53-4b3e-9a57-2f0e6c1a9b10');
const PLAINTEXT_MARKERS = ['Dvořák', 'Zoë', 'chest pain'];

/** Opening must fail with a DecryptionError that says nothing about the value. */
function expectOpenFails(open: () => unknown): DecryptionError {
  let caught: unknown;
  try {
    open();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(DecryptionError);
  const error = caught as DecryptionError;
  const told = [error.message, String(error.stack), String(error.cause ?? ''), JSON.stringify(error)].join('\n');
  for (const marker of PLAINTEXT_MARKERS) expect(told).not.toContain(marker);
  expect(error.message).toMatch(/could not be opened/);
  return error;
}

const decode = (sealed: string) => Buffer.from(sealed, 'base64url');
const encode = (raw: Buffer) => raw.toString('base64url');

describe('field envelope', () => {
  it('round-trips JSON and bytes, and lays out version, nonce, body and tag', () => {
    const sealed = sealJson(key, here, secret);
    expect(openJson(key, here, sealed)).toEqual(secret);
    const raw = decode(sealed);
    expect(raw[0]).toBe(ENVELOPE_VERSION);
    expect(raw.length).toBe(1 + 12 + Buffer.byteLength(JSON.stringify(secret)) + 16);
    for (const marker of PLAINTEXT_MARKERS) expect(raw.includes(Buffer.from(marker))).toBe(false);

    const bytes = randomBytes(1000);
    expect(openBytes(key, here, sealBytes(key, here, bytes)).equals(bytes)).toBe(true);
    expect(openBytes(key, here, sealBytes(key, here, Buffer.alloc(0))).length).toBe(0);
  });

  it('uses a fresh nonce for every value, so equal values never look equal', () => {
    const count = 5_000;
    const nonces = new Set<string>();
    const ciphertexts = new Set<string>();
    for (let i = 0; i < count; i++) {
      const sealed = sealJson(key, here, secret);
      nonces.add(decode(sealed).subarray(1, 13).toString('hex'));
      ciphertexts.add(sealed);
    }
    expect(nonces.size).toBe(count);
    expect(ciphertexts.size).toBe(count);
  });

  it('refuses a ciphertext moved to another row', () => {
    const sealed = sealJson(key, sealContext('allergies', 'sealed_body', 'row-a'), secret);
    expectOpenFails(() => openJson(key, sealContext('allergies', 'sealed_body', 'row-b'), sealed));
  });

  it('refuses a ciphertext moved to another column or table', () => {
    const sealed = sealJson(key, sealContext('patients', 'sealed_demographics', 'p1'), secret);
    expectOpenFails(() => openJson(key, sealContext('patients', 'sealed_insurance', 'p1'), sealed));
    expectOpenFails(() => openJson(key, sealContext('allergies', 'sealed_demographics', 'p1'), sealed));
  });

  it('refuses any single flipped bit, in every part of the envelope', () => {
    const sealed = sealJson(key, here, secret);
    const raw = decode(sealed);
    for (let byte = 0; byte < raw.length; byte++) {
      for (const bit of [0, 7]) {
        const tampered = Buffer.from(raw);
        tampered[byte]! ^= 1 << bit;
        expectOpenFails(() => openJson(key, here, encode(tampered)));
      }
    }
  });

  it('refuses the wrong data key', () => {
    const sealed = sealJson(key, here, secret);
    expectOpenFails(() => openJson(randomBytes(32), here, sealed));
  });

  it('refuses a truncated or missing tag, and garbage', () => {
    const raw = decode(sealJson(key, here, secret));
    for (const cut of [1, 4, 8, 12, 15, 16]) {
      expectOpenFails(() => openJson(key, here, encode(raw.subarray(0, raw.length - cut))));
    }
    expectOpenFails(() => openJson(key, here, ''));
    expectOpenFails(() => openJson(key, here, 'not an envelope at all'));
  });

  it('refuses an unknown format version even with a valid body', () => {
    const raw = decode(sealJson(key, here, secret));
    raw[0] = ENVELOPE_VERSION + 1;
    expectOpenFails(() => openJson(key, here, encode(raw)));
  });

  it('does not quote the plaintext when authentic bytes are not JSON', () => {
    const sealed = sealBytes(key, here, Buffer.from('{"familyName":"Dvořák", chest pain'));
    const error = expectOpenFails(() => openJson(key, here, sealed));
    expect(error.cause).toBeUndefined();
  });
});
