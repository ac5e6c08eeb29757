import { expect, test, type Browser, type Page } from '@playwright/test';
import { E2E_IDP_URL } from '../playwright.config';
import { DEMO_PASSWORD, expectNoStackTrace, loginAs, pathIs, UUID } from './helpers';

// Hospital SSO through a real OpenID Provider (test/idp/test-idp.mjs, started by
// playwright.config.ts). The people are this run's own (`<kind>-<run>` at the IdP,
// sso-<kind>-<run>@hospital.test here), so the spec depends on no other spec's data.

test.describe.configure({ mode: 'serial' });

const run = Date.now().toString(36);
const IDP_PASSWORD = 'idp-test-password';
const IDP_LABEL = 'Test Hospital ID';
const SSO_BUTTON = `Sign in with ${IDP_LABEL}`;
const MRN = '40000042';
const MINUTE = 60_000;
const SHOTS = process.env.VIGIL_SHOTS_DIR;
const FAILED = 'Signing in with your hospital account did not work. Try again; if it keeps failing, contact the service desk.';

const emailOf = (login: string) => `sso-${login}@hospital.test`;
const clinician = `clinician-${run}`;

test.afterEach(async ({ request }) => {
  await request.post('/api/test/clock', { data: { reset: true } });
});

async function shot(page: Page, name: string): Promise<void> {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

/** From Vigil's sign-in page through the IdP's own form (skipped when the IdP already has a session). */
async function ssoSignIn(page: Page, login: string): Promise<void> {
  await page.goto('/login');
  const signInPage = page.url();
  await page.getByRole('button', { name: SSO_BUTTON }).click();
  // Away from the sign-in page: to the IdP's form, or (it remembers the person) straight back.
  await page.waitForURL((url) => url.href !== signInPage && !url.pathname.startsWith('/api/auth'));
  if (page.url().startsWith(E2E_IDP_URL)) {
    await page.getByLabel('Username').fill(login);
    await page.getByLabel('Password').fill(IDP_PASSWORD);
    await page.getByRole('button', { name: 'Sign in to the hospital' }).click();
  }
  await page.waitForURL((url) => url.origin !== E2E_IDP_URL && !url.pathname.startsWith('/api/auth'));
}

async function withPage<T>(browser: Browser, fn: (page: Page) => Promise<T>): Promise<T> {
  const context = await browser.newContext();
  try {
    return await fn(await context.newPage());
  } finally {
    await context.close();
  }
}

/** What an administrator does first: the account (no roles: the IdP's groups give them). */
async function createAccount(admin: Page, login: string): Promise<string> {
  await admin.goto('/admin/users/new');
  const create = admin.getByTestId('create-user-form');
  await create.getByLabel('Email', { exact: true }).fill(emailOf(login));
  await create.getByLabel('Name', { exact: true }).fill(`SSO ${login}`);
  await create.getByLabel('Temporary password').fill(`Unused-${run}-password`);
  await create.getByLabel('Repeat the password').fill(`Unused-${run}-password`);
  await create.getByRole('button', { name: 'Create user' }).click();
  await expect(admin).toHaveURL(new RegExp(`/admin/users/${UUID.source}$`, 'i'));
  return admin.url();
}

async function refusedEntry(privacy: Page, login: string, reason: string): Promise<void> {
  await privacy.goto(`/admin/audit?user=${encodeURIComponent(emailOf(login))}&action=auth.login&outcome=denied`);
  await expect(privacy.getByTestId('audit-entries').locator('tr[data-action="auth.login"]').filter({ hasText: `reason: ${reason}` })).toHaveCount(1);
}

test('the sign-in page offers the hospital identity provider by name', async ({ page }) => {
  await page.goto('/login');
  await expect(page.getByRole('button', { name: SSO_BUTTON })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Sign in', exact: true })).toBeVisible();
  await shot(page, 'login-with-sso');
});

test('an admin maps a group; a clinician in it signs in through the IdP and opens a chart', async ({ browser, page }) => {
  await withPage(browser, async (admin) => {
    await loginAs(admin, 'admin');
    await createAccount(admin, clinician);
    await admin.goto('/admin/sso');
    const add = admin.getByTestId('add-mapping-form');
    await add.getByLabel('Group').fill('vigil-physicians');
    await add.getByLabel('Role').selectOption('physician');
    await add.getByLabel('Your password').fill(DEMO_PASSWORD);
    await add.getByRole('button', { name: 'Add mapping' }).click();
    await expect(add.getByRole('status')).toContainText(/vigil-physicians|already grants/);
    await expect(admin.getByTestId('sso-mappings').locator('tr[data-group="vigil-physicians"][data-role="physician"]')).toBeVisible();
    await shot(admin, 'admin-sso-groups');
  });

  // First sign-in: the verified email links the account, the group gives the physician role.
  await page.goto('/login');
  await page.getByRole('button', { name: SSO_BUTTON }).click();
  await expect(page).toHaveURL(new RegExp(`^${E2E_IDP_URL}/interaction/`));
  await shot(page, 'idp-sign-in');
  await page.getByLabel('Username').fill(clinician);
  await page.getByLabel('Password').fill(IDP_PASSWORD);
  await page.getByRole('button', { name: 'Sign in to the hospital' }).click();
  await expect(page).toHaveURL(pathIs('/patients'));

  await withPage(browser, async (admin) => {
    await loginAs(admin, 'admin');
    await admin.goto('/admin/care-teams');
    await admin.getByLabel('Medical record number (MRN)').fill(MRN);
    await admin.getByRole('button', { name: 'Find' }).click();
    const assign = admin.getByTestId('assign-form');
    await assign.getByLabel('Staff member').selectOption({ label: `SSO ${clinician} — ${emailOf(clinician)} (Physician)` });
    await assign.getByLabel('Relationship').selectOption('attending');
    await assign.getByRole('button', { name: 'Add to care team' }).click();
    await expect(assign.getByRole('status')).toContainText('added to the care team');
  });

  await page.reload();
  const rows = page.locator('table a[href^="/patients/"]');
  await expect(rows).toHaveCount(1);
  await rows.first().click();
  await expect(page.locator('section[data-section="demographics"]')).toContainText(MRN);
  await shot(page, 'sso-clinician-chart');
});

test('an SSO session times out when idle and is revoked like a password session', async ({ browser, page, request }) => {
  await ssoSignIn(page, clinician);
  await expect(page).toHaveURL(pathIs('/patients'));
  await request.post('/api/test/clock', { data: { advanceMs: 15 * MINUTE + 1_000 } });
  await page.reload();
  await expect(page).toHaveURL(/\/login\?reason=timeout$/);
  await request.post('/api/test/clock', { data: { reset: true } });

  // Two SSO sessions; "Sign out everywhere" in one ends the other on its next request.
  const elsewhere = await browser.newContext();
  try {
    const other = await elsewhere.newPage();
    await ssoSignIn(other, clinician);
    await expect(other).toHaveURL(pathIs('/patients'));
    await ssoSignIn(page, clinician);
    await expect(page).toHaveURL(pathIs('/patients'));
    await page.goto('/account');
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await expect(page).toHaveURL(/\/login\?reason=signed_out_everywhere$/);
    await other.reload();
    await expect(other).toHaveURL(/\/login\?reason=revoked$/);

    // Signing out of an SSO session offers the IdP's own sign-out too (RP-initiated logout).
    await ssoSignIn(other, clinician);
    await other.getByRole('button', { name: 'Sign out', exact: true }).click();
    await expect(other).toHaveURL(/\/login\?reason=signed_out&idp=1$/);
    const idpLogout = other.getByRole('link', { name: `Sign out of ${IDP_LABEL} too` });
    await expect(idpLogout).toHaveAttribute('href', new RegExp(`^${E2E_IDP_URL}/session/end\\?client_id=vigil-portal&post_logout_redirect_uri=`));
    await shot(other, 'signed-out-offers-idp-logout');
  } finally {
    await elsewhere.close();
  }
});

test('an unmapped group and a disabled account are refused with a plain message, and audited', async ({ browser }) => {
  const unmapped = `unmapped-${run}`;
  const leaver = `clinician-leaver-${run}`;
  await withPage(browser, async (admin) => {
    await loginAs(admin, 'admin');
    await createAccount(admin, unmapped);
    await createAccount(admin, leaver);
    const disable = admin.getByTestId('disable-form');
    await disable.getByRole('button', { name: 'Disable account…' }).click();
    await disable.getByLabel('Reason').selectOption('left_organisation');
    await disable.getByRole('button', { name: `Disable ${emailOf(leaver)}` }).click();
    await expect(admin.getByTestId('status-panel').getByRole('status')).toContainText('0 open sessions ended');
  });
  for (const [login, message, shotName] of [
    [unmapped, 'Your hospital account is in no group that has access to Vigil.', 'refused-unmapped'],
    [leaver, 'Your Vigil account is disabled.', 'refused-disabled'],
  ] as const) {
    await withPage(browser, async (page) => {
      await ssoSignIn(page, login);
      await expect(page).toHaveURL(pathIs('/login'));
      await expect(page.getByRole('alert').filter({ hasText: message })).toBeVisible();
      await expectNoStackTrace(page);
      await shot(page, shotName);
    });
  }
  await withPage(browser, async (privacy) => {
    await loginAs(privacy, 'privacy');
    await refusedEntry(privacy, unmapped, 'unmapped');
    await refusedEntry(privacy, leaver, 'disabled');
  });
});

test('a forged audience, an expired ID token, a replayed nonce and a mismatched state are refused and audited', async ({ browser, request }) => {
  for (const fault of ['wrong_audience', 'expired', 'replayed_nonce']) {
    await withPage(browser, async (page) => {
      const armed = await request.post(`${E2E_IDP_URL}/__test/fault`, { data: { fault } });
      expect(await armed.json()).toEqual({ fault });
      await ssoSignIn(page, clinician);
      await expect(page).toHaveURL(pathIs('/login'));
      await expect(page.getByRole('alert').filter({ hasText: FAILED })).toBeVisible();
      await expectNoStackTrace(page);
      await page.goto('/patients');
      await expect(page).toHaveURL(pathIs('/login'));
    });
  }
  await withPage(browser, async (page) => {
    // The IdP's redirect back carries an altered state (a route cannot rewrite a redirect's target).
    const armed = await request.post(`${E2E_IDP_URL}/__test/fault`, { data: { fault: 'tampered_state' } });
    expect(await armed.json()).toEqual({ fault: 'tampered_state' });
    await ssoSignIn(page, clinician);
    await expect(page.getByRole('alert').filter({ hasText: FAILED })).toBeVisible();
    await expectNoStackTrace(page);
    await shot(page, 'refused-forged-token');
    await page.goto('/patients');
    await expect(page).toHaveURL(pathIs('/login'));
  });

  // Refused anonymous callbacks are tallied per source and interval: close the interval, then read the entry.
  await request.post('/api/test/clock', { data: { advanceMs: MINUTE + 1_000 } });
  await withPage(browser, async (privacy) => {
    await loginAs(privacy, 'privacy');
    await expect(async () => {
      await privacy.goto('/admin/audit?action=auth.login&outcome=denied');
      const seqs = await privacy.getByTestId('audit-entries').locator('tr[data-action="auth.login"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-seq')));
      const reasons = new Set<string>();
      for (const seq of seqs.slice(0, 10)) {
        const body = await (await privacy.request.get(`/admin/audit/${seq}`)).text();
        for (const reason of ['sso_id_token_aud', 'sso_id_token_exp', 'sso_id_token_nonce', 'sso_state_mismatch']) if (body.includes(reason)) reasons.add(reason);
      }
      expect([...reasons].sort()).toEqual(['sso_id_token_aud', 'sso_id_token_exp', 'sso_id_token_nonce', 'sso_state_mismatch']);
    }).toPass({ timeout: 40_000, intervals: [2_000, 5_000] });
  });
});
