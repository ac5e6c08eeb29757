import { expect, test, type Page } from '@playwright/test';
import { approveRequest, DEMO_PASSWORD, expectNoStackTrace, login, loginAs, USERS } from './helpers';

/**
 * The two-person rule in Chromium: one administrator with two accounts. admin@ creates a puppet
 * admin (a second admin, admin2@, approves it in good faith) and then tries, through the puppet,
 * to give admin@ the physician role and to make a physician account with a known password. Both
 * fail, with plain messages; nobody approves their own request.
 */
const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const PUPPET = `puppet-${run}@vigil.test`;
const PUPPET_PASSWORD = `Puppet-${run}-password`;
const SHOTS = process.env.VIGIL_SHOTS_DIR;

async function shot(page: Page, name: string): Promise<void> {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

async function createAccount(page: Page, email: string, password: string, role: RegExp, adminPassword: string): Promise<void> {
  await page.goto('/admin/users/new');
  const create = page.getByTestId('create-user-form');
  await create.getByLabel('Email', { exact: true }).fill(email);
  await create.getByLabel('Name', { exact: true }).fill(`Two-person ${run}`);
  await create.getByLabel('Temporary password').fill(password);
  await create.getByLabel('Repeat the password').fill(password);
  await create.getByLabel(role).check();
  await create.getByLabel('Your password').fill(adminPassword);
  await create.getByRole('button', { name: 'Create user' }).click();
  await expect(create.getByRole('status')).toContainText('Sent for approval: another administrator must approve');
}

test('the puppet-admin path fails end to end', async ({ browser }) => {
  const insiderContext = await browser.newContext();
  const puppetContext = await browser.newContext();
  try {
    const insider = await insiderContext.newPage();
    await loginAs(insider, 'admin');

    // 1. The insider asks for a second admin account whose password they know.
    await createAccount(insider, PUPPET, PUPPET_PASSWORD, /^Admin/, DEMO_PASSWORD);

    // 2. They cannot approve it themselves: the Approvals page says why, and offers no button.
    await insider.goto('/admin/requests');
    const own = insider.getByTestId('pending-requests').locator('article').filter({ hasText: PUPPET });
    await expect(own.getByTestId('cannot-decide')).toHaveText('You cannot approve your own request. Another person must.');
    await expect(own.getByRole('button', { name: 'Approve…' })).toHaveCount(0);
    await shot(insider, 'approvals-own-request');

    // 3. A second administrator approves it (in good faith): the puppet exists.
    await approveRequest(browser, 'admin2', PUPPET);

    // 4. Through the puppet, the insider asks for the physician role for their own account: refused.
    const puppet = await puppetContext.newPage();
    await login(puppet, PUPPET, PUPPET_PASSWORD);
    await puppet.goto('/admin/users');
    await puppet.locator(`tr[data-email="${USERS.admin}"] a`).click();
    const roles = puppet.getByTestId('roles-form');
    await roles.getByLabel(/^Physician/).check();
    await roles.getByLabel('Your password').fill(PUPPET_PASSWORD);
    await roles.getByRole('button', { name: 'Save roles' }).click();
    await expect(roles.getByRole('alert')).toContainText('This account created yours or gave you your powers');
    await puppet.reload();
    await expect(puppet.getByTestId('user-roles')).toHaveText('Admin');
    await shot(puppet, 'puppet-refused-own-chain');

    // 5. Through the puppet, a physician account with a known password: the insider may not approve it.
    const physician = `puppet-physician-${run}@vigil.test`;
    await createAccount(puppet, physician, PUPPET_PASSWORD, /^Physician/, PUPPET_PASSWORD);
    await insider.goto('/admin/requests');
    const viaPuppet = insider.getByTestId('pending-requests').locator('article').filter({ hasText: physician });
    await expect(viaPuppet.getByTestId('cannot-decide')).toContainText('comes from an account you created or gave its powers to');
    await shot(insider, 'approvals-puppet-request');

    // The physician account does not exist: signing in with its known password fails.
    const probe = await insiderContext.newPage();
    await probe.context().clearCookies();
    await probe.goto('/login');
    await probe.getByLabel('Email', { exact: true }).fill(physician);
    await probe.getByLabel('Password', { exact: true }).fill(PUPPET_PASSWORD);
    await probe.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(probe.getByRole('alert').first()).toBeVisible();
    await expectNoStackTrace(insider);
  } finally {
    await insiderContext.close();
    await puppetContext.close();
  }
});
