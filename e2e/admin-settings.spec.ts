import { generateKeyPairSync } from 'node:crypto';
import { expect, test, type APIRequestContext, type Browser, type Page } from '@playwright/test';
import { approveRequest, DEMO_PASSWORD, loginAs, pathIs, UUID, type DemoUser } from './helpers';

/**
 * The two admin settings pages, end to end as admin@vigil.test:
 * - Monitoring thresholds: an out-of-bounds value is refused with the field and its range and
 *   saves nothing; a valid one saves; after the re-authentication window the password is asked
 *   for; the privacy officer reads the values; a clinician is refused. The thresholds are put
 *   back to the defaults at the end (other specs rely on them).
 * - API clients: the credential is shown once after issuing, the device is authenticated by
 *   POST /api/phi/vitals, and refused from the moment the client is revoked. Every client made
 *   here is revoked before the test ends.
 */

const SIX_MINUTES = 6 * 60_000; // past the 5-minute re-authentication window

async function signedIn(browser: Browser, who: DemoUser): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await loginAs(page, who);
  return page;
}

/** Revokes a client from its row on /admin/api-clients, confirming with the password. */
async function revoke(admin: Page, clientId: string, name: string): Promise<void> {
  const row = admin.locator(`tr[data-client-id="${clientId}"]`);
  await row.getByRole('button', { name: 'Revoke…' }).click();
  await row.getByLabel('Your password').fill(DEMO_PASSWORD);
  await row.getByRole('button', { name: `Revoke ${name}` }).click();
  await expect(row).toHaveAttribute('data-status', 'revoked');
}

async function moveClock(request: APIRequestContext, body: { advanceMs: number } | { reset: true }): Promise<void> {
  const response = await request.post('/api/test/clock', { data: body });
  expect(response.ok(), 'the e2e server must run with VIGIL_TEST_CLOCK=1').toBe(true);
}

test.afterEach(async ({ request }) => {
  await moveClock(request, { reset: true });
});

test.describe.serial('admin settings', () => {
  test('monitoring thresholds: bounds named, a valid change saved, step-up after the window, read-only for privacy officers', async ({ browser, request }) => {
    test.setTimeout(120_000);
    const admin = await signedIn(browser, 'admin');
    await admin.getByRole('link', { name: 'Monitoring thresholds' }).click();
    await expect(admin).toHaveURL(pathIs('/admin/monitoring'));
    const form = admin.getByTestId('monitor-form');
    const floor = form.getByLabel('Volume floor', { exact: true });
    const save = async (password?: string) => {
      if (password) await form.getByLabel('Your password').fill(password);
      await form.getByRole('button', { name: 'Save thresholds' }).click();
    };
    await expect(floor).toHaveValue('30');
    const original = await admin.getByTestId('monitor-source').innerText();

    try {
      // Out of bounds: the message names the field and its range; nothing changes.
      await floor.fill('2');
      await form.getByLabel('Refusals for CRITICAL').fill('9');
      await save();
      await expect(form.getByRole('alert').filter({ hasText: 'Nothing was saved.' })).toHaveText(
        'Nothing was saved. Volume floor must be a whole number from 5 to 100,000. (and 1 more below)',
      );
      await expect(form.getByText('Refusals for CRITICAL must be above Refusals for HIGH.')).toBeVisible();
      await admin.reload();
      await expect(floor).toHaveValue('30');
      await expect(admin.getByTestId('monitor-source')).toHaveText(original);

      // Within bounds, just after signing in, but away from the default: a privacy officer must
      // approve it (two-person rule); then saved and attributed to the admin who asked.
      await floor.fill('45');
      await save();
      await expect(form.getByRole('status')).toHaveText(/^Sent for approval: a privacy officer/);
      await approveRequest(browser, 'privacy', 'volumeFloor');
      await admin.reload();
      await expect(floor).toHaveValue('45');
      await expect(admin.getByTestId('monitor-source')).toContainText('by admin@vigil.test');

      // Past the re-authentication window: the password is asked for, then the change goes through.
      await moveClock(request, { advanceMs: SIX_MINUTES });
      await floor.fill('50');
      await save();
      await expect(form.getByRole('alert')).toHaveText('Enter your password to confirm this change.');
      await save(DEMO_PASSWORD);
      await expect(form.getByRole('status')).toHaveText(/^Sent for approval/);
      await approveRequest(browser, 'privacy', 'volumeFloor');
      await moveClock(request, { reset: true });

      // The privacy officer reads the thresholds and cannot change them; a clinician is refused.
      const privacy = await signedIn(browser, 'privacy');
      await privacy.getByRole('link', { name: 'Monitoring thresholds' }).click();
      await expect(privacy.locator('[data-setting="volumeFloor"]')).toContainText('50');
      await expect(privacy.getByTestId('monitor-form')).toHaveCount(0);
      await privacy.context().close();
      const physician = await signedIn(browser, 'physician');
      await expect(physician.getByRole('link', { name: 'Monitoring thresholds' })).toHaveCount(0);
      await physician.goto('/admin/monitoring');
      await expect(physician.getByTestId('admin-denied')).toBeVisible();
      await physician.context().close();
    } finally {
      // Back to the defaults, so later specs see the thresholds they expect.
      await moveClock(request, { reset: true });
      await admin.goto('/admin/monitoring');
      await floor.fill('30');
      await save(DEMO_PASSWORD);
      await expect(form.getByRole('status')).toBeVisible();
      await admin.reload();
      await expect(floor).toHaveValue('30');
    }
    await admin.context().close();
  });

  test('API clients: the credential is shown once; a revoked client is refused by the vitals endpoint at once', async ({ browser, request }) => {
    test.setTimeout(120_000);
    const admin = await signedIn(browser, 'admin');
    await admin.getByRole('link', { name: 'API clients' }).click();
    await expect(admin).toHaveURL(pathIs('/admin/api-clients'));
    const name = `E2E bedside monitor ${Date.now()}`;
    const device = (credential: string) =>
      // No x-audit-id: an authenticated client gets 403, a refused one 401; nothing is written.
      request.post('/api/phi/vitals', { headers: { authorization: `Bearer ${credential}` }, data: '' });
    let clientId: string | null = null;

    try {
      const issue = admin.getByTestId('issue-form');
      await issue.getByLabel('Name').fill(name);
      // The public half of the feed's signing key, as the device vendor would hand it over.
      await issue.getByLabel('Device signing key').fill(JSON.stringify(generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' })));
      await issue.getByLabel('Your password').fill(DEMO_PASSWORD);
      await issue.getByRole('button', { name: 'Issue client' }).click();
      await expect(issue.getByRole('status')).toHaveText(`Issued ${name}, serving 0 patients.`);
      const shown = issue.getByTestId('revealed-secret').getByLabel(`Credential for ${name}`);
      const credential = await shown.inputValue();
      expect(credential).toMatch(new RegExp(`^${UUID.source}\\.[A-Za-z0-9_-]{43}$`, 'i'));
      clientId = credential.split('.')[0]!;
      const secret = credential.split('.')[1]!;

      const row = admin.locator(`tr[data-client-id="${clientId}"]`);
      await expect(row).toHaveAttribute('data-status', 'active');
      await expect(row).toContainText(name);
      await expect(row).toContainText('admin@vigil.test');
      expect((await device(credential)).status()).toBe(403);

      // Shown once: a reload (or anyone else's visit) has no trace of the secret.
      await admin.reload();
      await expect(admin.getByTestId('revealed-secret')).toHaveCount(0);
      expect(await admin.content()).not.toContain(secret);

      await revoke(admin, clientId, name);
      await expect(row).toContainText('Revoked');
      const refused = await device(credential);
      expect(refused.status()).toBe(401);
      expect(await refused.json()).toEqual({ error: 'client not authenticated' });
      clientId = null;

      // Privacy officers have no access to device credentials.
      const privacy = await signedIn(browser, 'privacy');
      await expect(privacy.getByRole('link', { name: 'API clients' })).toHaveCount(0);
      await privacy.goto('/admin/api-clients');
      await expect(privacy.getByTestId('admin-denied')).toBeVisible();
      await privacy.context().close();
    } finally {
      if (clientId) {
        // The test failed between issuing and revoking: revoke what it made.
        await admin.goto('/admin/api-clients');
        await revoke(admin, clientId, name);
      }
    }
    await admin.context().close();
  });
});
