import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: {
      '@': fileURLToPath(new URL('.', import.meta.url)),
      // lib/ modules are server-only; tests run on the server side by definition.
      'server-only': fileURLToPath(new URL('./test/server-only-stub.ts', import.meta.url)),
    },
  },
  test: {
    include: ['**/*.test.ts'],
    // test/server/ starts the production server: its own stage (vitest.server.config.ts).
    exclude: ['node_modules/**', 'e2e/**', '.next*/**', '.data/**', 'test/server/**'],
    environment: 'node',
    // One migrated PGlite database per run; test/db.ts starts each file's database from it.
    globalSetup: ['./test/global-setup.ts'],
    // Per worker: its own data directory and key file (test/worker-env.ts). Per file, in its own
    // module graph: monitoring on, as in the server (test/setup.ts).
    setupFiles: ['./test/worker-env.ts', './test/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two files at a time, one per core of the CI machine: each has its own database (test/db.ts).
    maxWorkers: 2,
  },
});
