import AxeBuilder from '@axe-core/playwright';
import { expect, test, type APIRequestContext, type Browser, type Page, type TestInfo } from '@playwright/test';
import { DEMO_PASSWORD, login, loginAs, logout, pathIs, UUID, type DemoUser } from './helpers';

/**
 * At the bedside: the emergency lookup from a wristband to an open chart, what a restricted row
 * may carry, who gets one, the trail and the monitor; the patient banner by role; recently
 * viewed, the "/" shortcut and jump links; and an accessibility scan of every page visited.
 *
 * Accounts: physician2 (on no care team) for the lookup; staff04 (on the team of 10 patients)
 * for the burst that opens a case; staff06 and staff01 (the same team) for drafts, last, since
 * the idle timeout moves the server's clock. Every grant here ends when its session signs out.
 */

const WRISTBAND_MRN = '40000022';
/** Beyond billing's caseload (the first 100), so on nobody's team but the destructive staff's none. */
const STRANGER_MRN = '40000150';
const BURST_STAFF = 'staff04@vigil.test';
const DRAFT_STAFF = 'staff06@vigil.test';
const OTHER_STAFF = 'staff01@vigil.test';
const MINUTE = 60_000;
/** Markup, arrows, accents, a tab and trailing spaces: the draft must come back exactly so. */
const DRAFT_NOTE = 'Seen at 02:10 <b>febrile</b> → 38.9 °C; café-au-lait macules.\n\tPlan: cultures × 2, review at 06:00.  ';
const JUSTIFICATION = 'Brought in unresponsive to ED resus 1; treating team unreachable, need allergies and medications.';
/** Demographics a restricted row must not carry: the seed gives every patient these shapes. */
const BEYOND_IDENTITY = [/@example\.test/, /555-\d{3}-\d{4}/, /SYN\d{8}/, /\d{1,4} (Maple Ave|Harbor St|Elm Row|Cedar Ln|Orchard Rd|Mill Way|Birch Ct|Lake Dr)/];

async function signedIn(browser: Browser, who: DemoUser): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await loginAs(page, who);
  return page;
}

async function search(page: Page, q: string): Promise<void> {
  await page.getByLabel('Search patients').fill(q);
  await page.getByLabel('Search patients').press('Enter');
  await expect(page).toHaveURL(new RegExp(`[?&]q=${encodeURIComponent(q).replace(/%20/g, '(\\+|%20)')}`));
}

/** WCAG 2.1 A and AA on the page as it is now; violations are listed by rule and target. */
async function expectAccessible(page: Page, label: string): Promise<void> {
  const { violations } = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const found = violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(found, `axe on ${label}`).toEqual([]);
}

async function attachScreenshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  await testInfo.attach(name, { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' });
}

test.describe.serial('at the bedside', () => {
  // No retries: the steps build on each other in one database (a grant, a count of lookups), so a
  // retried group would start from the state its first attempt left and fail for that reason only.
  test.describe.configure({ retries: 0 });
  let identity = { name: '', dateOfBirth: '', lastName: '' };

  test('physician2: wristband MRN → restricted row → emergency access → chart, in four actions', async ({ page }, testInfo) => {
    const bodies: Array<{ url: string; body: string }> = [];
    page.on('response', async (response) => {
      if (!response.url().includes('/patients')) return;
      try {
        bodies.push({ url: response.url(), body: await response.text() });
      } catch {
        // a redirect has no body
      }
    });
    await loginAs(page, 'physician2');
    await expect(page.getByText('No patients found.')).toBeVisible();

    // 1. Type the MRN on the wristband.
    await search(page, WRISTBAND_MRN);
    const rows = page.getByTestId('restricted-row');
    await expect(rows).toHaveCount(1);
    const cells = rows.first().locator('td');
    await expect(cells).toHaveCount(5);
    await expect(cells.nth(2)).toHaveText(WRISTBAND_MRN);
    await expect(cells.nth(1)).toHaveText(/^\d{4}-\d{2}-\d{2}$/);
    await expect(cells.nth(3)).toHaveText(/^(female|male|other|unknown)$/i);
    await expect(rows.first()).toContainText('Not on your care team');
    identity = { name: await cells.nth(0).innerText(), dateOfBirth: await cells.nth(1).innerText(), lastName: (await cells.nth(0).innerText()).split(',')[0]! };
    await expectAccessible(page, 'patient list with a restricted row');
    await attachScreenshot(page, testInfo, 'restricted-row');
    // The row's HTML and the RSC payload carry nothing beyond name, sex, date of birth and MRN.
    expect(bodies.length).toBeGreaterThan(0);
    for (const { url, body } of bodies) for (const marker of BEYOND_IDENTITY) expect(body, `${marker} in ${url}`).not.toMatch(marker);

    // 2. Ask for emergency access; 3. give the reason; 4. open the chart.
    await rows.first().getByRole('link', { name: 'Request emergency access' }).click();
    await expect(page).toHaveURL(new RegExp(`/patients/${UUID.source}/break-glass$`, 'i'));
    await expectAccessible(page, 'emergency access prompt');
    await page.getByLabel('Reason').selectOption({ label: 'Emergency treatment' });
    await page.getByLabel('Justification').fill(JUSTIFICATION);
    await page.getByLabel('Password or authentication code').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Open chart with emergency access' }).click();
    await expect(page).toHaveURL(new RegExp(`/patients/${UUID.source}$`, 'i'));
    await expect(page.getByTestId('break-glass-banner')).toBeVisible();
    const banner = page.getByTestId('patient-banner');
    await expect(banner).toContainText(identity.name);
    await expect(banner).toContainText(WRISTBAND_MRN);
    await expect(page.getByTestId('banner-allergies')).toBeVisible();
    await expect(page.locator('section[data-section="medications"]')).toBeVisible();
    await expectAccessible(page, 'chart under emergency access');
    await attachScreenshot(page, testInfo, 'chart-physician2-emergency-access');
    await logout(page);
  });

  test('physician2 finds the same patient by last name and date of birth; a name alone or a prefix finds nobody outside, and says why', async ({ page }) => {
    await loginAs(page, 'physician2');
    await search(page, `${identity.lastName} ${identity.dateOfBirth}`);
    const rows = page.getByTestId('restricted-row');
    await expect(rows.filter({ hasText: WRISTBAND_MRN })).toHaveCount(1);
    for (const q of [identity.lastName, identity.lastName.slice(0, 3), identity.dateOfBirth]) {
      await search(page, q);
      await expect(rows).toHaveCount(0);
      await expect(page.getByTestId('outside-refused')).toContainText('exact MRN, or by last name together with date of birth');
    }
    await logout(page);
  });

  test('billing and admin get no restricted rows', async ({ page }) => {
    await loginAs(page, 'billing');
    await search(page, STRANGER_MRN);
    await expect(page.getByTestId('restricted-rows')).toHaveCount(0);
    await expect(page.getByTestId('outside-refused')).toHaveCount(0);
    await expect(page.getByText('No patients found.')).toBeVisible();
    await logout(page);
    await loginAs(page, 'admin');
    await page.goto(`/patients?q=${STRANGER_MRN}`);
    await expect(page.getByTestId('restricted-rows')).toHaveCount(0);
    await expect(page.locator('body')).not.toContainText('Request emergency access');
    await logout(page);
  });

  test('a burst of lookups opens a monitoring case, and every lookup is in the trail', async ({ page, browser }) => {
    await login(page, BURST_STAFF);
    for (let i = 0; i < 10; i++) {
      await page.goto(`/patients?q=${40_000_110 + i}`);
      await expect(page.getByTestId('restricted-row')).toHaveCount(1);
    }
    await logout(page);

    const officer = await signedIn(browser, 'privacy');
    await officer.goto('/admin/incidents');
    const group = officer.locator(`[data-testid="incident-group"][data-user-email="${BURST_STAFF}"]`);
    await expect(group.locator('tr[data-rule="emergency_lookups"]')).toContainText('HIGH');
    await expectAccessible(officer, 'incident queue');

    await officer.goto(`/admin/audit?user=${encodeURIComponent(BURST_STAFF)}&action=patient.emergency_lookup`);
    await expect(officer.locator('tr[data-action="patient.emergency_lookup"]')).toHaveCount(10);
    await officer.goto(`/admin/audit?user=${encodeURIComponent('physician2@vigil.test')}&action=patient.emergency_lookup`);
    // The MRN and the last name with date of birth; too-broad searches looked nothing up.
    await expect(officer.locator('tr[data-action="patient.emergency_lookup"]')).toHaveCount(2);
    await expectAccessible(officer, 'audit trail');
    await logout(officer);
  });

  test('each role’s chart: banner by lens, jump links, recently viewed, "/" to search; screenshots attached', async ({ browser }, testInfo) => {
    const physician = await signedIn(browser, 'physician');
    const first = physician.locator('table a[href^="/patients/"]').first();
    const chartPath = (await first.getAttribute('href'))!;
    await expectAccessible(physician, 'patient list');

    for (const [who, readsAllergies] of [['physician', true], ['nurse', true], ['billing', false]] as const) {
      const page = who === 'physician' ? physician : await signedIn(browser, who);
      await page.goto(chartPath);
      const banner = page.getByTestId('patient-banner');
      await expect(banner).toBeVisible();
      await expect(banner).toContainText(/MRN\s*\d{8}/);
      await expect(page.getByTestId('banner-age-sex')).toHaveText(/^\d+ (y|mo|d) · /);
      await expect(page.getByTestId('banner-allergies')).toHaveCount(readsAllergies ? 1 : 0);
      if (readsAllergies) await expect(page.getByTestId('banner-allergies')).toHaveText(/No known allergies|Allerg/);
      const jump = page.getByTestId('jump-links');
      await expect(jump).toBeVisible();
      const firstSection = jump.getByRole('link').last();
      const target = (await firstSection.getAttribute('href'))!;
      await firstSection.click();
      await expect(page).toHaveURL(new RegExp(`${target}$`));
      await expectAccessible(page, `${who}'s chart`);
      await attachScreenshot(page, testInfo, `chart-${who}`);

      await page.goto('/patients');
      await expect(page.getByTestId('recently-viewed').getByRole('link').first()).toHaveAttribute('href', chartPath);
      await page.locator('body').press('/');
      await expect(page.getByLabel('Search patients')).toBeFocused();
      await logout(page);
      await page.context().close();
    }
  });

  test('a note left past the idle timeout is offered back after signing in again, byte for byte, to its author only', async ({ page, request, browser }, testInfo) => {
    const serverClock = async (api: APIRequestContext, body: { advanceMs?: number; reset?: boolean }) =>
      expect((await api.post('/api/test/clock', { data: body })).ok(), 'the e2e server runs with VIGIL_TEST_CLOCK=1').toBe(true);
    await serverClock(request, { reset: true });
    try {
      await page.clock.install();
      await login(page, DRAFT_STAFF);
      const chartPath = (await page.locator('table a[href^="/patients/"]').first().getAttribute('href'))!;
      await page.goto(chartPath);
      const box = page.getByTestId('draft-progress_notes');
      await box.fill(DRAFT_NOTE);
      await page.clock.runFor(2_000);
      await expect(page.getByTestId('draft-status-progress_notes')).toContainText('Draft saved');

      // Idle: the warning says the draft is kept; at zero the chart is cleared and the session ends.
      await serverClock(request, { advanceMs: 13 * MINUTE + 10_000 });
      await page.clock.fastForward(13 * MINUTE + 10_000);
      await expect(page.getByRole('alertdialog').getByTestId('idle-draft-kept')).toBeVisible();
      await serverClock(request, { advanceMs: 2 * MINUTE + 5_000 });
      await page.clock.fastForward(2 * MINUTE + 5_000);
      await expect(page).toHaveURL(/\/login/);

      await login(page, DRAFT_STAFF);
      await page.goto(chartPath);
      await expect(page.getByTestId('draft-progress_notes')).toHaveValue(DRAFT_NOTE);
      await expect(page.getByTestId('draft-status-progress_notes')).toContainText('Your draft from');
      await attachScreenshot(page, testInfo, 'draft-offered-back');
      await expectAccessible(page, 'chart with a draft offered back');

      const other = await (await browser.newContext()).newPage();
      await login(other, OTHER_STAFF);
      await other.goto(chartPath);
      await expect(other.getByTestId('draft-progress_notes')).toHaveValue('');
      expect(await other.content()).not.toContain('café-au-lait');
      await logout(other);
      await logout(page);
    } finally {
      await serverClock(request, { reset: true });
    }
  });

  /** Opens the first link on `list` whose href matches, and scans it. */
  const scanFirst = async (page: Page, list: string, href: RegExp) => {
    await page.goto(list);
    const hrefs = await page.locator('a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
    const target = hrefs.find((h) => href.test(h));
    expect(target, `a link like ${href} on ${list}`).toBeDefined();
    await page.goto(target!);
    await expectAccessible(page, target!);
  };

  // One test per role: a scan per page is seconds on a busy 2-core machine, and all of them
  // together outran one test's timeout.
  test('the sign-in and account pages pass the accessibility scan', async ({ browser }) => {
    const anonymous = await (await browser.newContext()).newPage();
    await anonymous.goto('/login');
    await expect(anonymous).toHaveURL(pathIs('/login'));
    await expectAccessible(anonymous, '/login');
    const physician = await signedIn(browser, 'physician');
    for (const path of ['/account', '/account/password', '/account/mfa']) {
      await physician.goto(path);
      await expectAccessible(physician, path);
    }
    await logout(physician);
  });

  test('the admin pages pass the accessibility scan', async ({ browser }) => {
    const admin = await signedIn(browser, 'admin');
    for (const path of ['/admin/users', '/admin/users/new', '/admin/roles', '/admin/roles/physician', '/admin/care-teams', '/admin/monitoring', '/admin/api-clients', '/admin/break-glass/settings']) {
      await admin.goto(path);
      await expectAccessible(admin, path);
    }
    await scanFirst(admin, '/admin/users', new RegExp(`^/admin/users/${UUID.source}$`, 'i'));
    await logout(admin);
  });

  test('the privacy pages pass the accessibility scan', async ({ browser }) => {
    const privacy = await signedIn(browser, 'privacy');
    for (const path of ['/admin/audit', '/admin/audit/disclosures', '/admin/break-glass', '/admin/break-glass/notifications', '/admin/incidents', '/admin']) {
      await privacy.goto(path);
      await expectAccessible(privacy, path);
    }
    await scanFirst(privacy, '/admin/audit', /^\/admin\/audit\/\d+$/);
    await scanFirst(privacy, '/admin/break-glass', new RegExp(`^/admin/break-glass/${UUID.source}$`, 'i'));
    await scanFirst(privacy, '/admin/incidents', new RegExp(`^/admin/incidents/${UUID.source}$`, 'i'));
    await logout(privacy);
  });
});
