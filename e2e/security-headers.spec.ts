import { expect, test, type APIResponse, type Page } from '@playwright/test';
import { loginAs, logout, pathIs, UUID } from './helpers';

/**
 * Security headers: every page and API response carries them; PHI responses (pages, RSC
 * payloads, server action results, PHI APIs) carry `Cache-Control: no-store`; the CSP uses a
 * per-request nonce that Next stamps on its own scripts, and the browser reports no violation.
 */
const REQUIRED: Record<string, RegExp> = {
  'content-security-policy': /script-src 'self' 'nonce-[A-Za-z0-9+/=]{16,}' 'strict-dynamic'/,
  'strict-transport-security': /max-age=\d{7,}/,
  'x-content-type-options': /^nosniff$/,
  'referrer-policy': /^same-origin$/,
  'permissions-policy': /camera=\(\)/,
  'cache-control': /no-store/,
};

function expectSecurityHeaders(response: APIResponse | { headers(): Record<string, string>; url(): string }, label: string) {
  const headers = response.headers();
  for (const [name, pattern] of Object.entries(REQUIRED)) {
    expect(headers[name], `${label}: ${name}`).toMatch(pattern);
  }
  const csp = headers['content-security-policy']!;
  expect(csp, `${label}: CSP allows inline script`).not.toMatch(/script-src[^;]*'unsafe-inline'/);
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("object-src 'none'");
}

async function firstChartPath(page: Page): Promise<string> {
  await page.goto('/patients');
  const href = await page.locator(`table a[href^="/patients/"]`).first().getAttribute('href');
  expect(href).toMatch(UUID);
  return href!;
}

const PUBLIC_PATHS = ['/login', '/api/health', '/api/phi/key', '/no-such-page', '/api/auth/session'];
const PORTAL_PATHS = ['/', '/patients', '/patients?q=smith', '/admin/users', '/admin/roles', '/admin/audit', '/admin/break-glass', '/admin/incidents'];

test.describe('security headers', () => {
  test('public pages and APIs, signed out, carry every header', async ({ request }) => {
    for (const path of [...PUBLIC_PATHS, ...PORTAL_PATHS]) {
      const response = await request.get(path, { maxRedirects: 0 });
      expectSecurityHeaders(response, `GET ${path} (signed out, ${response.status()})`);
    }
    const post = await request.post('/api/phi/vitals', { data: { patientId: 'x' } });
    expectSecurityHeaders(post, 'POST /api/phi/vitals (refused)');
  });

  for (const who of ['physician', 'admin', 'privacy'] as const) {
    test(`every page ${who} can open carries the headers and no-store, as HTML and as RSC payload`, async ({ page }) => {
      await loginAs(page, who);
      const paths = [...PORTAL_PATHS, ...PUBLIC_PATHS];
      if (who === 'physician') {
        const chart = await firstChartPath(page);
        paths.push(chart, `${chart}/break-glass`);
      }
      for (const path of paths) {
        const html = await page.request.get(path, { maxRedirects: 0 });
        expectSecurityHeaders(html, `GET ${path} as ${who} (${html.status()})`);
        const rsc = await page.request.get(path, { maxRedirects: 0, headers: { RSC: '1' } });
        expectSecurityHeaders(rsc, `RSC ${path} as ${who} (${rsc.status()})`);
      }
    });
  }

  test('server action responses carry no-store, and the chart is not served from cache after sign-out', async ({ page }) => {
    await loginAs(page, 'physician');
    const chart = await firstChartPath(page);
    await page.goto(chart);
    const notes = page.locator('section[data-section="progress_notes"]');
    await notes.locator('textarea[name="text"]').fill('Headers check: patient reviewed, plan unchanged.');
    const [actionResponse] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && !!r.request().headers()['next-action']),
      notes.getByRole('button', { name: 'Add note' }).click(),
    ]);
    expectSecurityHeaders(actionResponse, 'server action POST');
    await expect(notes.getByRole('status')).toHaveText('Saved.');

    await logout(page);
    await page.goBack();
    // no-store: going back re-requests the chart, and without a session that is the login page.
    await expect(page).toHaveURL(pathIs('/login'));
    await expect(page.locator('section[data-section="demographics"]')).toHaveCount(0);
  });

  test('the nonce policy lets the app run and nothing violates it', async ({ page }) => {
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to (execute|load|apply)/i.test(message.text())) violations.push(message.text());
    });
    page.on('pageerror', (error) => violations.push(`pageerror: ${error.name}`));
    // Signing in needs hydrated client components, so a blocked bootstrap script fails here.
    await loginAs(page, 'nurse');
    const chart = await firstChartPath(page);
    await page.goto(chart);
    await expect(page.locator('section[data-section="demographics"]')).toBeVisible();
    // Every script the server sends carries the nonce. Chunks the app loads later (an error
    // boundary, a lazy component) are trusted through 'strict-dynamic' and carry none; the
    // browser's violation reports below are what catch a script the policy would block.
    const html = await (await page.request.get(chart)).text();
    const scriptTags = html.match(/<script\b[^>]*>/g) ?? [];
    expect(scriptTags.length).toBeGreaterThan(0);
    for (const tag of scriptTags) expect(tag, 'server-sent script without a nonce').toMatch(/\snonce="[^"]+"/);
    // Two loads, two nonces.
    const a = (await page.request.get('/login')).headers()['content-security-policy'];
    const b = (await page.request.get('/login')).headers()['content-security-policy'];
    expect(a).not.toBe(b);
    await page.goto('/no-such-page');
    await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
    expect(violations).toEqual([]);
  });
});
