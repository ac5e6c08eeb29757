import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { seedRolesAndUsers, SEED_REFUSED_MESSAGE } from '@/db/seed';
import { users } from '@/db/schema';
import { checkStartup, StartupRefused } from '@/lib/platform/startup-checks';
import { vigilMode } from '@/lib/platform/mode';
import { testClockRouteOpen } from '@/lib/platform/clock';
import { testDatabase } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';

/** A production configuration with nothing wrong: the secret set, the key file outside the data. */
const SAFE = {
  VIGIL_MODE: 'production',
  AUTH_SECRET: 'a-production-secret-of-at-least-32-characters',
  VIGIL_DATA_DIR: '/var/lib/vigil/data',
  VIGIL_KEY_FILE: '/etc/vigil/keys.json',
};
const facts = { servedByVigil: true, fileMode: () => 0o100600 };

async function refusal(source: Record<string, string | undefined>, f = facts): Promise<StartupRefused> {
  const error = await checkStartup(source, null, f).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(StartupRefused);
  return error as StartupRefused;
}

describe('start-up checks', () => {
  it('picks the mode by one rule: VIGIL_MODE, else production under NODE_ENV=production', () => {
    expect(vigilMode({ NODE_ENV: 'production' })).toBe('production');
    expect(vigilMode({ NODE_ENV: 'production', VIGIL_MODE: 'demo' })).toBe('demo');
    expect(vigilMode({ NODE_ENV: 'test' })).toBe('demo');
    expect(vigilMode({ VIGIL_MODE: 'production' })).toBe('production');
  });

  it('lets a safe production configuration start', async () => {
    await expect(checkStartup(SAFE, null, facts)).resolves.toEqual({ mode: 'production', warnings: [] });
  });

  it.each([
    ['AUTH_SECRET', { AUTH_SECRET: undefined }, /AUTH_SECRET: is not set/],
    ['AUTH_SECRET', { AUTH_SECRET: 'tiny-s3cret' }, /AUTH_SECRET: is shorter than 32/],
    ['VIGIL_KEY_FILE', { VIGIL_KEY_FILE: '/var/lib/vigil/data/keys.json' }, /VIGIL_KEY_FILE: is inside VIGIL_DATA_DIR/],
    ['VIGIL_TEST_CLOCK', { VIGIL_TEST_CLOCK: '1' }, /VIGIL_TEST_CLOCK: opens the test route/],
    ['VIGIL_INSECURE_COOKIES', { VIGIL_INSECURE_COOKIES: 'true' }, /VIGIL_INSECURE_COOKIES: drops the Secure flag/],
    ['VIGIL_KEY_CACHE_SECONDS', { VIGIL_KEY_CACHE_SECONDS: 'ten' }, /VIGIL_KEY_CACHE_SECONDS must be a number of seconds/],
    ['VIGIL_PUBLIC_URL', { VIGIL_PUBLIC_URL: 'not a url' }, /VIGIL_PUBLIC_URL must be an http\(s\) URL/],
    ['VIGIL_TRUSTED_PROXIES', { VIGIL_TRUSTED_PROXIES: '10.0.0.0/33' }, /VIGIL_TRUSTED_PROXIES must be a comma-separated list/],
  ])('refuses %s in production with a message naming it', async (_name, change, message) => {
    const error = await refusal({ ...SAFE, ...change });
    expect(error.message).toMatch(message);
    expect(error.message, 'never quotes a value').not.toContain('tiny-s3cret');
  });

  it('refuses hospital SSO half-configured, over plain http, without AUTH_URL, or passwords off with no SSO, naming the variable', async () => {
    const sso = { VIGIL_OIDC_ISSUER: 'https://login.hospital.example', VIGIL_OIDC_CLIENT_ID: 'vigil', VIGIL_OIDC_CLIENT_SECRET: 'a-client-secret-value', AUTH_URL: 'https://vigil.hospital.example' };
    await expect(checkStartup({ ...SAFE, ...sso }, null, facts)).resolves.toMatchObject({ warnings: [] });
    expect((await refusal({ ...SAFE, ...sso, VIGIL_OIDC_CLIENT_SECRET: undefined })).message).toMatch(/VIGIL_OIDC_CLIENT_SECRET: is not set, but VIGIL_OIDC_ISSUER and VIGIL_OIDC_CLIENT_ID are/);
    expect((await refusal({ ...SAFE, ...sso, VIGIL_OIDC_ISSUER: 'http://login.hospital.example' })).message).toMatch(/VIGIL_OIDC_ISSUER: is plain http/);
    expect((await refusal({ ...SAFE, ...sso, AUTH_URL: undefined })).message).toMatch(/AUTH_URL: is not set/);
    const off = await refusal({ ...SAFE, VIGIL_DISABLE_LOCAL_PASSWORDS: 'true' });
    expect(off.message).toMatch(/VIGIL_DISABLE_LOCAL_PASSWORDS: switches passwords off/);
    expect(off.message, 'never quotes a value').not.toContain('a-client-secret-value');
  });

  it('refuses a key file other users can read', async () => {
    const error = await refusal(SAFE, { ...facts, fileMode: () => 0o100644 });
    expect(error.message).toMatch(/VIGIL_KEY_FILE: can be read by other users/);
  });

  it('refuses a server started without scripts/serve.mjs, which cannot know client addresses', async () => {
    const error = await refusal(SAFE, { ...facts, servedByVigil: false });
    expect(error.message).toMatch(/npm start/);
  });

  it('only warns about the same settings in demo mode', async () => {
    const verdict = await checkStartup({ ...SAFE, VIGIL_MODE: 'demo', VIGIL_TEST_CLOCK: '1', VIGIL_INSECURE_COOKIES: 'true' }, null, facts);
    expect(verdict.mode).toBe('demo');
    expect(verdict.warnings.map((w) => w.variable)).toEqual(['VIGIL_TEST_CLOCK', 'VIGIL_INSECURE_COOKIES']);
  });
});

describe('production mode and the demo', () => {
  let handle: TestDatabase;
  beforeAll(async () => {
    handle = await testDatabase({ empty: true });
  });
  afterAll(async () => {
    await handle?.close();
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('refuses to run the demo seed, writing nothing', async () => {
    vi.stubEnv('VIGIL_MODE', 'production');
    await expect(seedRolesAndUsers(handle.db)).rejects.toThrow(SEED_REFUSED_MESSAGE);
    expect(await handle.db.select().from(users)).toEqual([]);
  });

  it('refuses to start while a demo account is in the database', async () => {
    await checkStartup(SAFE, handle.db, facts);
    await seedRolesAndUsers(handle.db); // demo mode: the seed runs
    const error = await checkStartup(SAFE, handle.db, facts).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StartupRefused);
    expect((error as Error).message).toMatch(/database: holds demo accounts/);
    await expect(checkStartup({ ...SAFE, VIGIL_MODE: 'demo' }, handle.db, facts)).resolves.toMatchObject({ mode: 'demo' });
  });

  it('closes the test-clock route (app/api/test/clock answers 404) in production mode even with VIGIL_TEST_CLOCK=1', () => {
    vi.stubEnv('VIGIL_TEST_CLOCK', '1');
    expect(testClockRouteOpen()).toBe(true);
    vi.stubEnv('VIGIL_MODE', 'production');
    expect(testClockRouteOpen()).toBe(false);
    vi.stubEnv('NODE_ENV', 'production');
    vi.stubEnv('VIGIL_MODE', '');
    expect(testClockRouteOpen()).toBe(false);
  });
});
