import { defineConfig } from '@playwright/test';

// End-to-end tests drive the *production* build (next build + next start via `npm run demo`)
// in Debian's Chromium. `--fresh` wipes .data/e2e so every run starts from the same seed.
const PORT = Number(process.env.PORT ?? 3100);
const baseURL = `http://127.0.0.1:${PORT}`;
const CI = !!process.env.CI;
export const E2E_DATA_DIR = PORT === 3100 ? '.data/e2e' : `.data/e2e-${PORT}`;
export const E2E_DIST_DIR = PORT === 3100 ? '.next-e2e' : `.next-e2e-${PORT}`;
// The test hospital identity provider (test/idp/test-idp.mjs) that e2e/sso.spec.ts signs in through.
export const E2E_IDP_URL = `http://127.0.0.1:${Number(process.env.E2E_IDP_PORT ?? PORT + 5)}`;

/**
 * Playwright's bundled browsers need a download; Debian's Chromium is installed by
 * scripts/ensure-chromium.sh. Tests run in its headless shell (package chromium-headless-shell,
 * the same Chromium build without the browser's UI, which is what Playwright itself runs
 * headless): each test takes about a quarter less time than in the full browser's headless mode.
 * `VIGIL_E2E_CHROMIUM=/usr/bin/chromium npx playwright test --headed` watches a run in the full one.
 */
export const CHROMIUM = process.env.VIGIL_E2E_CHROMIUM ?? '/usr/lib/chromium/chromium-headless-shell';
/** The flags keep it from phoning home (no internet here). */
export const CHROMIUM_ARGS = [
  '--no-sandbox', // we run as root in a container
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export default defineConfig({
  testDir: 'e2e',
  // Per port too: Playwright empties outputDir at start, and a shared one let a concurrent run
  // delete this run's traces mid-test (ENOENT on context close).
  outputDir: `test-results/e2e-${PORT}`,
  // 2-core machine: the server and Next build already use both cores.
  workers: 1,
  fullyParallel: false,
  retries: CI ? 1 : 0,
  forbidOnly: CI,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  // list for humans; json so scripts/test-all.sh can count (PLAYWRIGHT_JSON_OUTPUT_FILE overrides).
  reporter: [['list'], ['json', { outputFile: `playwright-report/results-${PORT}.json` }]],
  use: {
    baseURL,
    browserName: 'chromium',
    // Recording a trace costs every test about a sixth of its time (screencast and DOM snapshots);
    // CI retries a failure once and records that retry, a local run (no retries) keeps failures'.
    trace: CI ? 'on-first-retry' : 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: { executablePath: CHROMIUM, args: CHROMIUM_ARGS },
  },
  webServer: [
  {
    command: `node test/idp/test-idp.mjs --port ${new URL(E2E_IDP_URL).port} --portal ${baseURL}`,
    url: `${E2E_IDP_URL}/.well-known/openid-configuration`,
    timeout: 30_000,
    reuseExistingServer: false,
    stdout: 'pipe',
    stderr: 'pipe',
  },
  {
    command: 'npm run demo -- --fresh',
    url: `${baseURL}/api/health`,
    // Builds Next and seeds a fresh database first: minutes on 2 cores.
    timeout: 600_000,
    // A server already on the port would be tested with unknown data: only reuse on request.
    reuseExistingServer: !CI && process.env.VIGIL_E2E_REUSE_SERVER === '1',
    stdout: 'pipe',
    stderr: 'pipe',
    // SIGTERM lets the server close PGlite cleanly instead of the default SIGKILL.
    gracefulShutdown: { signal: 'SIGTERM', timeout: 10_000 },
    // Merged over process.env. DATABASE_URL passes through if set (test-all unsets it, so e2e
    // runs on PGlite in .data/e2e).
    env: {
      PORT: String(PORT),
      // Per-port data and build directories, so two e2e runs on one machine never share state.
      VIGIL_DATA_DIR: E2E_DATA_DIR,
      VIGIL_KEY_FILE: `${E2E_DATA_DIR}/keys.json`,
      NEXT_DIST_DIR: E2E_DIST_DIR,
      // Enables POST /api/test/clock so timeout and expiry tests can move the server's clock.
      VIGIL_TEST_CLOCK: '1',
      // The SMART app e2e/fhir-smart.spec.ts serves (by request interception) on the portal's own origin.
      VIGIL_SMART_APPS: `e2e-smart-app=${baseURL}/e2e-smart-app/callback.html`,
      // Every server log line also goes here; e2e/security-attacks.spec.ts scans it for PHI.
      VIGIL_LOG_FILE: `${E2E_DATA_DIR}/server.log`,
      AUTH_SECRET: 'vigil-e2e-test-secret-not-for-production-0123456789',
      AUTH_TRUST_HOST: 'true',
      NEXT_TELEMETRY_DISABLED: '1',
      // Hospital SSO against the test identity provider (e2e/sso.spec.ts); AUTH_URL fixes its redirect URI.
      AUTH_URL: baseURL,
      VIGIL_OIDC_ISSUER: E2E_IDP_URL,
      VIGIL_OIDC_CLIENT_ID: 'vigil-portal',
      VIGIL_OIDC_CLIENT_SECRET: 'vigil-portal-test-secret-not-for-production',
      VIGIL_OIDC_NAME: 'Test Hospital ID',
    },
  },
  ],
});
