import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { expectNoStackTrace, loginAs, logout, pathIs, USERS, UUID } from './helpers';

const CHART_LINK = new RegExp(`^/patients/${UUID.source}$`, 'i');

test.describe('audit trail', () => {
  test('a physician’s chart view is in the trail, and the physician may not read the trail', async ({ page }) => {
    await loginAs(page, 'physician');
    const link = page.locator('a[href^="/patients/"]').filter({ hasText: /\S/ }).first();
    const href = await link.getAttribute('href');
    expect(href).toMatch(CHART_LINK);
    await link.click();
    await expect(page.locator('[data-section="demographics"]')).toBeVisible();

    await page.goto('/admin/audit');
    await expect(page.getByTestId('audit-denied')).toContainText('You do not have access to the audit trail');
    await expect(page.getByTestId('audit-entries')).toHaveCount(0);
    await expectNoStackTrace(page);
    await logout(page);
  });

  test('a privacy officer filters by user, sees the chain intact, and downloads the CSV', async ({ page }) => {
    await loginAs(page, 'privacy');
    await expect(page).toHaveURL(pathIs('/admin/audit'));
    const status = page.getByTestId('chain-status');
    await expect(status).toHaveAttribute('data-state', 'ok');
    await expect(status).toContainText(/Chain intact/);
    await expect(status).toContainText(/OK: \d+ entries/);

    await page.getByLabel('User (email)').fill(USERS.physician);
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect(page).toHaveURL(/[?&]user=physician%40vigil\.test/);
    const rows = page.getByTestId('audit-entries').locator('tbody tr[data-seq]');
    await expect(rows.first()).toBeVisible();
    const users = await rows.getByTestId('entry-user').allInnerTexts();
    expect(users.length).toBeGreaterThan(0);
    for (const user of users) expect(user).toContain(USERS.physician);
    await expect(page.locator('tr[data-action="chart.view"]').first()).toBeVisible();

    const downloading = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Download CSV' }).click();
    const download = await downloading;
    expect(download.suggestedFilename()).toMatch(/^vigil-audit-.*\.csv$/);
    const csv = readFileSync((await download.path())!, 'utf8').trimEnd().split('\r\n');
    expect(csv[0]).toMatch(/^seq,occurred_at,user_email,/);
    expect(csv.length).toBeGreaterThan(1);
    for (const line of csv.slice(1)) expect(line).toContain(USERS.physician);
    expect(csv.some((line) => line.includes(',chart.view,'))).toBe(true);

    // One entry in full, with its own chain check; then that patient's accounting of disclosures.
    const view = page.locator('tr[data-action="chart.view"]').first();
    await view.locator('td').first().getByRole('link').click();
    await expect(page.getByTestId('entry-chain')).toContainText('Its content matches its hash');
    await expect(page.getByText('chart.view', { exact: true })).toBeVisible();
    await page.getByRole('link', { name: UUID }).first().click();
    const report = page.getByTestId('disclosure-report');
    await expect(report).toBeVisible();
    await expect(report.locator('tr[data-action="chart.view"]').first()).toContainText('Viewed the chart');
    await expect(report.locator('tr[data-action="disclosures.report"]').last()).toContainText('Privacy oversight');
    await page.goto('/admin/audit');

    // "Verify now" walks the whole chain and says so.
    await page.getByRole('button', { name: 'Verify now' }).click();
    await expect(page.getByTestId('verify-result')).toContainText(/^OK: \d+ entries in \d+ chains? up to seq \d+, root [0-9a-f]{64}/);
    await expectNoStackTrace(page);
    await logout(page);
  });
});
