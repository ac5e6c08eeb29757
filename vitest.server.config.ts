import { defineConfig } from 'vitest/config';
import base from './vitest.config';

/**
 * Tests that start the production server themselves (test/server/): crash safety on both
 * databases and the short load test. Their own stage of `npm test` (scripts/test-all.sh runs
 * them after the e2e stage, on the build it made); plain `npx vitest run` leaves them out.
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/server/**/*.test.ts'],
    exclude: ['node_modules/**', '.next*/**', '.data/**'],
    // These start the server on its own database; no test/db.ts template to build.
    globalSetup: [],
    // A missing or stale build is made first (minutes on 2 cores).
    hookTimeout: 900_000,
    testTimeout: 300_000,
  },
});
