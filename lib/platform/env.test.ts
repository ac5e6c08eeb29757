import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ENV_NAMES, EnvError, env, parseEnv } from '@/lib/platform/env';

const root = path.resolve(import.meta.dirname, '../..');

function sourceFiles(entry: string): string[] {
  const full = path.join(root, entry);
  if (statSync(full).isFile()) return [entry];
  return readdirSync(full).flatMap((name) => sourceFiles(path.join(entry, name)));
}

/** Names in the first table under README's "## Configuration" heading, one per row. */
function readmeVariables(): string[] {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const section = readme.split(/^## Configuration$/m)[1]?.split(/^## /m)[0] ?? '';
  const table = section.slice(section.indexOf('\n|')).split(/\n(?!\|)/)[0]!;
  return table
    .split('\n')
    .filter((row) => row.startsWith('|'))
    .slice(2)
    .map((row) => {
      const cell = row.split('|')[1]!.trim();
      expect(cell, 'one variable per row, in backticks').toMatch(/^`[A-Z][A-Z0-9_]*`$/);
      return cell.slice(1, -1);
    });
}

describe('environment', () => {
  const saved = process.env.VIGIL_KEY_CACHE_SECONDS;
  afterEach(() => {
    if (saved === undefined) delete process.env.VIGIL_KEY_CACHE_SECONDS;
    else process.env.VIGIL_KEY_CACHE_SECONDS = saved;
  });

  it('is read only through lib/platform/env.ts', () => {
    const files = ['lib', 'db', 'app', 'components', 'proxy.ts', 'instrumentation.ts']
      .flatMap(sourceFiles)
      .filter((file) => /\.(ts|tsx|js|mjs|cjs)$/.test(file) && !/\.test\.tsx?$/.test(file))
      .filter((file) => file !== path.join('lib', 'platform', 'env.ts'));
    expect(files.length).toBeGreaterThan(50);
    // Next replaces the literal NEXT_RUNTIME test in instrumentation.ts at build time (see there).
    const allowed = (file: string, text: string) => (file === 'instrumentation.ts' ? text.replaceAll('process.env.NEXT_RUNTIME', '') : text);
    const offenders = files.filter((file) => /process\s*(\.\s*env\b|\[\s*['"`]env)/.test(allowed(file, readFileSync(path.join(root, file), 'utf8'))));
    expect(offenders).toEqual([]);
  });

  it('is documented in README, one row per variable the schema knows', () => {
    const documented = readmeVariables();
    expect(new Set(documented).size, 'no variable listed twice').toBe(documented.length);
    expect([...documented].sort()).toEqual([...ENV_NAMES].sort());
  });

  it('keeps the defaults when nothing is set, and treats blank as unset', () => {
    const defaults = parseEnv({});
    expect(defaults).toMatchObject({
      VIGIL_DATA_DIR: '.data',
      VIGIL_KEY_FILE: '.data/keys.json',
      VIGIL_KEY_CACHE_SECONDS: 120,
      VIGIL_REQUIRE_MFA: false,
      VIGIL_INSECURE_COOKIES: false,
      VIGIL_TEST_CLOCK: false,
      VIGIL_ALERT_EMAIL_FROM: 'vigil-alerts@localhost',
    });
    expect(defaults.DATABASE_URL).toBeUndefined();
    expect(parseEnv({ VIGIL_KEY_CACHE_SECONDS: '  ', VIGIL_DATA_DIR: '' })).toMatchObject({ VIGIL_KEY_CACHE_SECONDS: 120, VIGIL_DATA_DIR: '.data' });
    expect(parseEnv({ VIGIL_KEY_CACHE_SECONDS: '0', VIGIL_REQUIRE_MFA: 'true', VIGIL_TEST_CLOCK: '1' })).toMatchObject({
      VIGIL_KEY_CACHE_SECONDS: 0,
      VIGIL_REQUIRE_MFA: true,
      VIGIL_TEST_CLOCK: true,
    });
  });

  it('fails closed on a value that does not parse, naming the variable but not the value', () => {
    const failure = (source: Record<string, string>) => {
      try {
        parseEnv(source);
      } catch (error) {
        expect(error).toBeInstanceOf(EnvError);
        return (error as Error).message;
      }
      throw new Error('expected the environment to be rejected');
    };
    expect(failure({ VIGIL_KEY_CACHE_SECONDS: 'two minutes' })).toBe(
      'The environment is misconfigured: VIGIL_KEY_CACHE_SECONDS must be a number of seconds.',
    );
    expect(failure({ VIGIL_KEY_CACHE_SECONDS: '-5' })).toMatch(/VIGIL_KEY_CACHE_SECONDS must be a number of seconds/);
    expect(failure({ VIGIL_REQUIRE_MFA: 'yes' })).toMatch(/VIGIL_REQUIRE_MFA must be true or false/);
    expect(failure({ VIGIL_INSECURE_COOKIES: 'TRUE' })).toMatch(/VIGIL_INSECURE_COOKIES must be true or false/);
    expect(failure({ VIGIL_LOG_LEVEL: 'verbose' })).toMatch(/VIGIL_LOG_LEVEL must be fatal, error/);
    const both = failure({ VIGIL_TEST_CLOCK: 'on', DATABASE_URL: ['mysql:', '', 'admin:hunter2@db', 'vigil'].join('/') });
    expect(both).toMatch(/VIGIL_TEST_CLOCK must be 1 or 0/);
    expect(both).toMatch(/DATABASE_URL must be a postgres/);
    expect(both).not.toMatch(/hunter2|admin|mysql/);
  });

  it('re-reads the process environment when it changes', () => {
    process.env.VIGIL_KEY_CACHE_SECONDS = '30';
    expect(env().VIGIL_KEY_CACHE_SECONDS).toBe(30);
    process.env.VIGIL_KEY_CACHE_SECONDS = 'soon';
    expect(() => env()).toThrow(/VIGIL_KEY_CACHE_SECONDS/);
    delete process.env.VIGIL_KEY_CACHE_SECONDS;
    expect(env().VIGIL_KEY_CACHE_SECONDS).toBe(120);
  });

  it('in the production server (scripts/serve.mjs), keeps its first reading: nothing changes it there', () => {
    const served = Symbol.for('vigil.serve');
    process.env.VIGIL_KEY_CACHE_SECONDS = '30';
    expect(env().VIGIL_KEY_CACHE_SECONDS).toBe(30);
    (globalThis as Record<symbol, unknown>)[served] = true;
    try {
      process.env.VIGIL_KEY_CACHE_SECONDS = '45';
      expect(env().VIGIL_KEY_CACHE_SECONDS).toBe(30);
    } finally {
      Reflect.deleteProperty(globalThis, served);
    }
    expect(env().VIGIL_KEY_CACHE_SECONDS).toBe(45);
  });
});
