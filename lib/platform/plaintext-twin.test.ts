/**
 * The load benchmark's plaintext twin switch: it works where the benchmark runs it (demo mode),
 * and a production server can neither start with it nor be switched by it.
 */
import { count } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, patients } from '@/db/schema';
import { listPatients } from '@/lib/features/records';
import { forgetListCards } from '@/lib/features/records/list-cards';
import { createPatientKey, evictDataKey } from '@/lib/platform/crypto';
import { plaintextTwin } from '@/lib/platform/plaintext-twin';
import { checkStartup, StartupRefused } from '@/lib/platform/startup-checks';
import { testDatabase, viewer as signIn } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';

const VARIABLES = ['VIGIL_BENCH_PLAINTEXT_TWIN', 'VIGIL_MODE'] as const;
const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
function setEnv(values: Partial<Record<(typeof VARIABLES)[number], string>>): void {
  for (const name of VARIABLES) {
    if (values[name] === undefined) Reflect.deleteProperty(process.env, name);
    else process.env[name] = values[name];
  }
  evictDataKey();
  forgetListCards();
}

let handle: TestDatabase;
beforeAll(async () => {
  handle = await testDatabase({ patients: 3 });
});
afterEach(() => setEnv(saved));
afterAll(async () => handle?.close());

const auditCount = async () => (await handle.db.select({ n: count() }).from(auditLog))[0]!.n;

async function sealWithNewKey(value: unknown): Promise<string> {
  const [patient] = await handle.db.select({ id: patients.id }).from(patients).limit(1);
  // A stand-alone key under a fresh id: the sealing is what is looked at, not the patient.
  const cipher = await createPatientKey(handle.db, crypto.randomUUID());
  return cipher.seal('patients', 'sealed_demographics', patient!.id, value);
}

describe('the plaintext twin', () => {
  it('turns sealing and the audit trail off where the benchmark runs it (demo mode)', async () => {
    setEnv({ VIGIL_BENCH_PLAINTEXT_TWIN: '1', VIGIL_MODE: 'demo' });
    expect(plaintextTwin()).toBe(true);
    expect(await sealWithNewKey({ familyName: 'Twin' })).toBe('{"familyName":"Twin"}');
    const before = await auditCount();
    expect((await listPatients(await signIn(handle.db, 'physician@vigil.test'), {})).ok).toBe(true);
    expect(await auditCount()).toBe(before);
  });

  it('is refused at start-up in production mode, naming the variable', async () => {
    const production = {
      VIGIL_MODE: 'production',
      AUTH_SECRET: 'a-production-secret-of-at-least-32-characters',
      VIGIL_DATA_DIR: '/var/lib/vigil/data',
      VIGIL_KEY_FILE: '/etc/vigil/keys.json',
    };
    const facts = { servedByVigil: true, fileMode: () => 0o100600 };
    await expect(checkStartup(production, null, facts)).resolves.toMatchObject({ mode: 'production' });
    const error = await checkStartup({ ...production, VIGIL_BENCH_PLAINTEXT_TWIN: '1' }, null, facts).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StartupRefused);
    expect((error as StartupRefused).problems.map((p) => p.variable)).toEqual(['VIGIL_BENCH_PLAINTEXT_TWIN']);
  });

  it('reads as off in production mode: values are still sealed and every read still audited', async () => {
    setEnv({ VIGIL_BENCH_PLAINTEXT_TWIN: '1', VIGIL_MODE: 'production' });
    expect(plaintextTwin()).toBe(false);
    const sealed = await sealWithNewKey({ familyName: 'Twin' });
    expect(sealed).not.toContain('Twin');
    expect(() => JSON.parse(sealed)).toThrow();

    const viewer = await signIn(handle.db, 'physician@vigil.test');
    const before = await auditCount();
    expect((await listPatients(viewer, {})).ok).toBe(true);
    expect(await auditCount()).toBe(before + 1);
  });
});
