/**
 * The browser never receives server crypto or key material. Scans every file the production
 * build serves to browsers (<distDir>/static/**) for markers of lib/platform/crypto and the database
 * layer, and for the actual keys of the e2e key file in every encoding they could take.
 * Plain Node file reads: no browser needed, but it runs after the build Playwright starts.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { E2E_DATA_DIR, E2E_DIST_DIR } from '../playwright.config';

/** Strings only server code contains: Node's cipher API, envelope and key-store names, PHI columns. */
const SERVER_MARKERS = [
  'createCipheriv',
  'createDecipheriv',
  'aes-256-gcm',
  'sealed_demographics',
  'sealed_insurance',
  'sealed_body',
  'sealed_entries',
  'chart_pages',
  'sealed_justification',
  'wrapped_key',
  'patient_keys',
  'blindIndexKey',
  'masterKeys',
  'systemKey',
  'VIGIL_MASTER_KEYS',
  'VIGIL_KEY_FILE',
  'DATABASE_URL',
];

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

/** Every key of the key file, as base64 (as stored), base64url and hex. */
function keyEncodings(): Array<{ label: string; value: string }> {
  const material = JSON.parse(readFileSync(path.join(E2E_DATA_DIR, 'keys.json'), 'utf8')) as {
    masterKeys: Array<{ version: number; key: string }>;
    blindIndexKey: string;
    systemKey: string;
  };
  const keys = [
    ...material.masterKeys.map((k) => ({ label: `master key v${k.version}`, key: k.key })),
    { label: 'blind-index key', key: material.blindIndexKey },
    { label: 'system key', key: material.systemKey },
  ];
  return keys.flatMap(({ label, key }) => {
    const bytes = Buffer.from(key, 'base64');
    expect(bytes.length, `${label} is 256 bits`).toBe(32);
    return [
      { label: `${label} (base64)`, value: key },
      { label: `${label} (base64url)`, value: bytes.toString('base64url') },
      { label: `${label} (hex)`, value: bytes.toString('hex') },
    ];
  });
}

test('client bundles contain no server crypto, no PHI column names and no key material', () => {
  const staticDir = path.join(E2E_DIST_DIR, 'static');
  expect(existsSync(staticDir), `${staticDir} should exist: the production build runs before the tests`).toBe(true);
  const files = filesUnder(staticDir);
  expect(files.filter((f) => f.endsWith('.js')).length, 'the build should have client JavaScript').toBeGreaterThan(0);
  const secrets = keyEncodings();

  const findings: string[] = [];
  for (const file of files) {
    const text = readFileSync(file).toString('latin1');
    for (const marker of SERVER_MARKERS) if (text.includes(marker)) findings.push(`${path.relative(staticDir, file)}: ${marker}`);
    for (const secret of secrets) if (text.includes(secret.value)) findings.push(`${path.relative(staticDir, file)}: ${secret.label}`);
  }
  expect(findings).toEqual([]);
});
