import { expect, test } from '@playwright/test';
import { loginAs } from './helpers';

/**
 * The master keys' lifecycle page as an administrator sees it (no key, no PHI), refused to a
 * clinician; and /api/health naming the key store's state.
 */
test('an admin sees each master key version, where it lives, its age and the next rotation', async ({ page }, testInfo) => {
  await loginAs(page, 'admin');
  await page.getByRole('link', { name: 'Keys' }).click();
  await expect(page.getByRole('heading', { name: 'Master keys' })).toBeVisible();
  const current = page.getByTestId('key-versions').locator('tr[data-version]').filter({ hasText: 'Current' });
  await expect(current).toHaveCount(1);
  await expect(current).toContainText(/file:|token|env/);
  await expect(page.getByTestId('days-until-due')).toHaveText(/Due in \d+ day\(s\)|Overdue by \d+ day\(s\)/);
  const text = await page.locator('main').innerText();
  expect(text).not.toMatch(/[A-Za-z0-9+/]{43}=/); // no base64 256-bit key anywhere
  await page.screenshot({ path: testInfo.outputPath('admin-keys.png'), fullPage: true });
});

test('a clinician is refused the key lifecycle page', async ({ page }) => {
  await loginAs(page, 'physician');
  await page.goto('/admin/keys');
  await expect(page.getByRole('heading', { name: 'Master keys' })).toHaveCount(0);
});

test('/api/health names the key store state', async ({ request }) => {
  const response = await request.get('/api/health');
  expect(response.status()).toBe(200);
  expect(await response.json()).toMatchObject({ status: 'ok', keys: 'ok' });
});
