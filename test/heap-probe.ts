/**
 * A stand-in portal process for the memory test (lib/platform/crypto/pkcs11/memory.test.ts):
 * opens the configured key store (the key file, or the SoftHSM token under PROBE_PREFIX), seeds
 * a few patients, opens a chart as a physician, and writes a V8 heap snapshot to PROBE_SNAPSHOT.
 */
import { writeHeapSnapshot } from 'node:v8';
import { patients } from '@/db/schema';
import { seedDatabase } from '@/db/seed';
import { setKeyProvider } from '@/lib/platform/crypto';
import { loadKeyFileProvider } from '@/lib/platform/crypto/key-provider';
import { Pkcs11KeyProvider } from '@/lib/platform/crypto/pkcs11/provider';
import { getChart } from '@/lib/features/records';
import { createTestDatabase } from './db';
import { viewer } from './fixtures';
import { requireTestToken } from './softhsm';

const file = process.env.PROBE_KEY_FILE;
if (file) setKeyProvider(loadKeyFileProvider(file));
else {
  const provider = Pkcs11KeyProvider.open({ ...requireTestToken(), prefix: process.env.PROBE_PREFIX! });
  provider.initialise();
  setKeyProvider(provider);
}
const handle = await createTestDatabase();
await seedDatabase(handle.db, { patients: 3 });
const physician = await viewer(handle.db, 'physician@vigil.test');
const [first] = await handle.db.select({ id: patients.id }).from(patients).limit(1);
const opened = await getChart(physician, first!.id);
if (!opened.ok || opened.value.demographics?.status !== 'ok') throw new Error('The probe could not open a chart.');
writeHeapSnapshot(process.env.PROBE_SNAPSHOT!);
await handle.close();
