/**
 * Runs first in every test worker (vitest.config.ts runs two test files at a time, one per core):
 * each worker process gets a data directory and a key file of its own, so two files never share
 * an audit checkpoint or race each other creating master keys. A variable already set (a test
 * stage, a developer) wins.
 */
import path from 'node:path';

const worker = process.env.VITEST_POOL_ID ?? '0';
process.env.VIGIL_DATA_DIR ??= path.join('.data', `vitest-${worker}`);
process.env.VIGIL_KEY_FILE ??= path.join('.data', `vitest-${worker}-keys.json`);
