/**
 * What keeping master keys in an HSM costs a chart open: the same physician opening the same
 * charts with the key-file provider and with the PKCS#11 provider on a SoftHSM token (made by
 * scripts/ensure-softhsm.sh when the run has none), each with the data key cached and unwrapped
 * on every load. Each patient's data key is wrapped both ways up front; before each load its row
 * is pointed at the wrap of the variant about to run (outside the timing), so every variant opens
 * the very same chart and the loads alternate, patient by patient, so drift hits all alike.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { careTeam, patientKeys } from '@/db/schema';
import { seedDatabase } from '@/db/seed';
import { resetChainKey } from '@/lib/platform/audit/chain';
import { evictDataKey, setKeyProvider } from '@/lib/platform/crypto';
import { ensureKeyFile, loadKeyFileProvider } from '@/lib/platform/crypto/key-provider';
import { saveMonitorConfig } from '@/lib/features/monitor/config';
import { registerMonitoring } from '@/lib/features/monitor/register';
import { getChart } from '@/lib/features/records';
import { createTestDatabase } from '@/test/db';
import { viewer as signIn } from '@/test/fixtures';
import { freshTokenProvider, testToken } from '@/test/softhsm';
import { quantile, round, timed, type BenchResult, type BenchRow, type Sample } from './types';

const PATIENTS = Number(process.env.VIGIL_BENCH_KEYS_PATIENTS ?? 200);
const LOADS = Number(process.env.VIGIL_BENCH_KEYS_LOADS ?? 200);
const WARM_UP = 20;
const TARGET_CACHED = 1.1;

/** The run's token, or a throwaway one made now (removed when the suite ends). */
function ensureToken(): () => void {
  if (testToken()) return () => {};
  const exports = execFileSync('bash', ['scripts/ensure-softhsm.sh'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  let dir = '';
  for (const line of exports.split('\n')) {
    const match = /^export (\w+)=(.*)$/.exec(line);
    if (!match) continue;
    process.env[match[1]!] = match[2]!.replace(/^'(.*)'$/, '$1');
    if (match[1] === 'SOFTHSM_TEST_DIR') dir = process.env[match[1]]!;
  }
  return () => rmSync(dir, { recursive: true, force: true });
}

export async function run(): Promise<BenchResult> {
  const removeToken = ensureToken();
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-bench-keys-'));
  registerMonitoring();
  const file = path.join(dir, 'keys.json');
  ensureKeyFile(file);
  const fileProvider = loadKeyFileProvider(file);
  setKeyProvider(fileProvider);
  resetChainKey();
  evictDataKey();
  const handle = await createTestDatabase();
  try {
    await seedDatabase(handle.db, { patients: PATIENTS, seed: 42 });
    await saveMonitorConfig(handle.db, { volumeFloor: 100_000 }, null);
    const viewer = await signIn(handle.db, 'physician@vigil.test');
    const ids = (await handle.db.select({ id: careTeam.patientId }).from(careTeam).where(eq(careTeam.userId, viewer.userId))).map((r) => r.id);

    // The token provider reads the file's versions too, so the same secrets serve both.
    const token = freshTokenProvider({ legacy: fileProvider });
    token.importSecrets();
    const tokenVersion = await token.addVersion();
    const wraps = new Map<string, { file: { wrapped: string; version: number }; token: { wrapped: string; version: number } }>();
    for (const row of await handle.db.select().from(patientKeys)) {
      const context = `patient_keys.wrapped_key.${row.patientId}`;
      const key = fileProvider.unwrap(row.wrappedKey!, context, row.masterKeyVersion);
      wraps.set(row.patientId, {
        file: { wrapped: row.wrappedKey!, version: row.masterKeyVersion },
        token: { wrapped: token.wrap(key, context, tokenVersion), version: tokenVersion },
      });
    }
    const point = async (id: string, store: 'file' | 'token') => {
      const w = wraps.get(id)![store];
      await handle.db.update(patientKeys).set({ wrappedKey: w.wrapped, masterKeyVersion: w.version }).where(eq(patientKeys.patientId, id));
    };

    const variants = {
      'key file, data key cached': { store: 'file', cold: false },
      'key file, data key unwrapped': { store: 'file', cold: true },
      'PKCS#11 token, data key cached': { store: 'token', cold: false },
      'PKCS#11 token, data key unwrapped': { store: 'token', cold: true },
    } as const;
    const names = Object.keys(variants) as Array<keyof typeof variants>;
    const samples = Object.fromEntries(names.map((n) => [n, [] as Sample[]])) as Record<keyof typeof variants, Sample[]>;
    for (let i = 0; i < WARM_UP + LOADS; i++) {
      const id = ids[i % ids.length]!;
      for (let k = 0; k < names.length; k++) {
        const name = names[(i + k) % names.length]!;
        const { store, cold } = variants[name];
        setKeyProvider(store === 'file' ? fileProvider : token);
        await point(id, store);
        evictDataKey(id);
        if (!cold) await getChart(viewer, id); // fills the cache; the timed open then hits it
        const sample = await timed(async () => {
          if (cold) evictDataKey(id);
          const opened = await getChart(viewer, id);
          if (!opened.ok || opened.value.demographics?.status !== 'ok') throw new Error('A chart did not open in the benchmark.');
        });
        if (i >= WARM_UP) samples[name].push(sample);
      }
    }

    const median = (name: keyof typeof variants) => quantile(samples[name].map((s) => s.wallMs), 0.5);
    const rows = names.map((name): BenchRow => {
      const base = variants[name].cold ? 'key file, data key unwrapped' : 'key file, data key cached';
      return {
        variant: name,
        loads: samples[name].length,
        'median ms': round(median(name)),
        'p95 ms': round(quantile(samples[name].map((s) => s.wallMs), 0.95)),
        'cpu median ms': round(quantile(samples[name].map((s) => s.cpuMs), 0.5)),
        'x key file (same caching)': round(median(name) / median(base), 2),
      };
    });
    const cached = round(median('PKCS#11 token, data key cached') / median('key file, data key cached'), 2);
    const uncached = round(median('PKCS#11 token, data key unwrapped') / median('key file, data key unwrapped'), 2);
    return {
      name: 'Master keys: key file vs PKCS#11 token (SoftHSM), chart open',
      rows,
      notes: [
        `${PATIENTS} seeded patients, PGlite; the physician's ${ids.length} care-team charts in turn, ${LOADS} loads per variant after ${WARM_UP} warm-up.`,
        `Token with a cached data key / key file with a cached data key: ${cached}x median (target ≤ ${TARGET_CACHED}x: ${cached <= TARGET_CACHED ? 'met' : 'MISSED'}).`,
        `Uncached (an unwrap inside the token on every open) / key file uncached: ${uncached}x median. SoftHSM runs in-process; a network HSM adds its round trip to each unwrap, which the data-key cache (VIGIL_KEY_CACHE_SECONDS) hides.`,
      ],
    };
  } finally {
    setKeyProvider(undefined);
    await handle.close();
    rmSync(dir, { recursive: true, force: true });
    removeToken();
  }
}
