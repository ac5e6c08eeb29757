/**
 * Shared set-up for the tests that run the production server (test/server/*.test.ts, run by
 * vitest.server.config.ts as their own stage of `npm test`): which build to use. The portal
 * itself comes from bench/load/stack.ts.
 */
import { ensureBuild } from '@/bench/load/portal';

/**
 * scripts/test-all.sh points this at the build its e2e stage has just made (no second build);
 * run alone, the tests build into .next-load when it is missing or older than the sources.
 */
export function serverTestBuild(): string {
  const distDir = process.env.VIGIL_SERVER_TEST_DIST_DIR ?? '.next-load';
  ensureBuild(distDir, { reuse: process.env.VIGIL_SERVER_TEST_REUSE_BUILD === '1', log: (line) => console.log(line) });
  return distDir;
}

