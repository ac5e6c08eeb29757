import { expect, test, type Browser, type Page } from '@playwright/test';
import { DEMO_PASSWORD, login, loginAs, logout, pathIs, UUID, type DemoUser } from './helpers';

/**
 * Break-glass in the browser: the 403 offer, the justification prompt and its refusals, the
 * red banner, expiry on the (moved) server clock, the privacy officer's review, and that
 * billing/admin can neither see the offer nor use the action by forging a post.
 *
 * Accounts: physician2 (on no care team) for the main flow; staff07 (a destructive-test
 * account on the team of 10 patients) for expiry. Every grant here ends when its session signs
 * out or expires, so no other spec inherits access.
 */

const JUSTIFICATION = 'Unresponsive in ED resus 2, BP <80 & HR >130; treating team unreachable, need meds & allergies.';
const STAFF = 'staff07@vigil.test';

/** Ids of the patients on a user's list (their care team), first page, in list order. */
async function listedPatients(page: Page): Promise<string[]> {
  await page.goto('/patients');
  const hrefs = await page.locator('table a[href^="/patients/"]').evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
  return hrefs.map((h) => h.match(UUID)?.[0]).filter((id): id is string => Boolean(id));
}

let candidates: string[] = [];
let staffTeam = new Set<string>();

/** A page that fails the test if any dialog (alert/confirm/prompt) opens: injected script would. */
function trapDialogs(page: Page): string[] {
  const opened: string[] = [];
  page.on('dialog', async (dialog) => {
    opened.push(`${dialog.type()}: ${dialog.message()}`);
    await dialog.dismiss();
  });
  return opened;
}

async function fillPrompt(page: Page, fields: { reason?: string; justification: string; secret?: string }): Promise<void> {
  if (fields.reason !== undefined) await page.getByLabel('Reason').selectOption({ label: fields.reason });
  await page.getByLabel('Justification').fill(fields.justification);
  await page.getByLabel('Password or authentication code').fill(fields.secret ?? DEMO_PASSWORD);
  // Wait for the action's answer, so the next step never races the form re-rendering.
  const answered = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().includes('/break-glass'));
  await page.getByRole('button', { name: 'Open chart with emergency access' }).click();
  await answered;
  await expect(page.getByRole('button', { name: 'Checking…' })).toHaveCount(0);
}

async function moveClock(page: Page, body: { advanceMs: number } | { reset: true }): Promise<void> {
  const response = await page.request.post('/api/test/clock', { data: body });
  expect(response.ok(), 'the e2e server must run with VIGIL_TEST_CLOCK=1').toBe(true);
}

/** A fresh browser context signed in as a demo role, settled on its landing page. */
async function signedIn(browser: Browser, who: DemoUser): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await loginAs(page, who);
  return page;
}

test.describe.serial('break-glass emergency access', () => {
  test.beforeAll(async ({ browser }) => {
    const physician = await signedIn(browser, 'physician');
    candidates = await listedPatients(physician);
    await physician.context().close();
    const staff = await (await browser.newContext()).newPage();
    await login(staff, STAFF);
    await expect(staff).toHaveURL(pathIs('/patients'));
    staffTeam = new Set(await listedPatients(staff));
    await staff.context().close();
    expect(candidates.length).toBeGreaterThan(5);
  });

  test('physician2: 403 with the offer → justification → chart with banner → privacy officer approves', async ({ page, browser }) => {
    const patientId = candidates[1]!;
    const dialogs = trapDialogs(page);
    await loginAs(page, 'physician2');

    await page.goto(`/patients/${patientId}`);
    const denied = page.getByTestId('access-denied');
    await expect(denied).toContainText('403');
    await expect(page.locator('section[data-section]')).toHaveCount(0);
    await denied.getByRole('link', { name: 'Emergency access' }).click();
    await expect(page).toHaveURL(pathIs(`/patients/${patientId}/break-glass`));

    // Identity only: name, date of birth, MRN — and no chart section.
    const identity = page.getByTestId('break-glass-identity');
    await expect(identity.locator('dt')).toHaveText(['Patient', 'Date of birth', 'MRN']);
    await expect(identity.locator('dd').nth(1)).toHaveText(/^\d{4}-\d{2}-\d{2}$/);
    await expect(page.locator('section[data-section]')).toHaveCount(0);

    await fillPrompt(page, { reason: 'Emergency treatment', justification: JUSTIFICATION });
    await expect(page).toHaveURL(pathIs(`/patients/${patientId}`));
    const banner = page.getByTestId('break-glass-banner');
    await expect(banner).toBeVisible();
    await expect(banner).toContainText('Emergency treatment');
    await expect(banner).toContainText(/(59|60) minutes left/);
    await expect(page.locator('section[data-section="medications"]')).toBeVisible();
    await page.reload();
    await expect(banner).toBeVisible();
    // Asking again while the grant is live is refused: no silent extension.
    await page.goto(`/patients/${patientId}/break-glass`);
    await expect(page).toHaveURL(pathIs(`/patients/${patientId}`));
    expect(dialogs).toEqual([]);
    await logout(page);

    // The privacy officer: notified, sees the grant first in the queue, and what was viewed.
    const privacy = await signedIn(browser, 'privacy');
    const privacyDialogs = trapDialogs(privacy);
    await privacy.goto('/admin/break-glass');
    await expect(privacy.getByTestId('notifications-unread')).toBeVisible();
    await privacy.getByTestId('notifications-link').click();
    await expect(privacy.getByTestId('notifications').locator('li[data-kind="break_glass.granted"]').first()).toContainText('Dr. Ben Okafor');

    await privacy.goto('/admin/break-glass');
    // This patient's grant: other specs (the bedside lookup) leave physician2 grants of their own.
    const row = privacy.getByTestId('break-glass-queue').locator('tbody tr').filter({ hasText: 'physician2@vigil.test' }).filter({ hasText: patientId.slice(0, 8) }).filter({ hasText: 'Pending review' }).first();
    await expect(row).toContainText('Emergency treatment');
    await row.getByRole('link', { name: 'Review' }).click();
    const review = privacy.getByTestId('grant-review');
    await expect(review).toBeVisible();
    await expect(privacy.getByTestId('grant-reason')).toHaveText('Emergency treatment');
    // The GET page keeps the justification and MRN sealed; they open only with a stated reason, in a POST.
    await expect(privacy.getByTestId('grant-justification')).toHaveCount(0);
    expect(await review.textContent()).not.toContain(JUSTIFICATION.slice(0, 20));
    const reveal = privacy.getByTestId('grant-reveal-form');
    await reveal.getByLabel('Why are you opening them?').selectOption('break_glass_review');
    await reveal.getByRole('button', { name: 'Show the justification and MRN' }).click();
    // Markup-like characters in a justification are shown as text, exactly as typed.
    await expect(privacy.getByTestId('grant-justification')).toHaveText(JUSTIFICATION);
    await expect(privacy.getByTestId('grant-mrn')).toHaveText(/\S/);
    const viewed = privacy.getByTestId('sections-viewed');
    for (const section of ['demographics', 'medications', 'allergies', 'progress_notes']) {
      await expect(viewed.locator(`li[data-section="${section}"]`)).toBeVisible();
    }
    await expect(privacy.getByTestId('grant-activity').locator('tr[data-action="break_glass.grant"]')).toHaveCount(1);
    // The view after the grant and the reload, at least (a prefetch may add none: it must not render the chart).
    expect(await privacy.getByTestId('grant-activity').locator('tr[data-action="chart.view"]').count()).toBeGreaterThanOrEqual(2);
    await expect(privacy.getByTestId('grant-activity').locator('tr[data-action="break_glass.end"]')).toHaveCount(1);
    await expect(review).toContainText('signed out');

    const form = privacy.getByTestId('review-form');
    await form.getByRole('button', { name: 'Record verdict' }).click();
    await expect(privacy.getByTestId('grant-verdict')).toContainText('Pending review');
    await form.getByLabel('Appropriate').check();
    await form.getByLabel(/Comment/).fill('Confirmed with the ED charge nurse: resus patient, team in theatre.');
    await form.getByRole('button', { name: 'Record verdict' }).click();
    // The page re-renders with the verdict in place of the form.
    await expect(privacy.getByTestId('grant-review-comment')).toBeVisible();
    await privacy.reload();
    await expect(privacy.getByTestId('grant-verdict')).toContainText('Appropriate');
    await expect(privacy.getByTestId('grant-verdict')).toContainText('Fay Privacy Officer');
    await expect(privacy.getByTestId('grant-review-comment')).toHaveText('Confirmed with the ED charge nurse: resus patient, team in theatre.');
    await expect(privacy.getByTestId('review-form')).toHaveCount(0);
    expect(privacyDialogs).toEqual([]);
    await privacy.context().close();
  });

  test('bad justifications are refused with a clear message, make no grant, and markup never runs', async ({ page }) => {
    const patientId = candidates[2]!;
    const dialogs = trapDialogs(page);
    await loginAs(page, 'physician2');
    await page.goto(`/patients/${patientId}/break-glass`);
    const error = page.getByTestId('break-glass-error');

    const cases: Array<[string, string, RegExp]> = [
      ['empty', '', /Enter a justification/],
      ['whitespace', '    \n   ', /Enter a justification/],
      ['too short', 'Emergency!', /too short/],
      ['filler', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaa', /filler/],
      ['keyboard filler', 'asdf asdf asdf asdf asdf asdf', /filler/],
      ['over-long', 'Patient unresponsive in resus, need the chart now. '.repeat(25), /too long/],
      ['script', '<script>alert("xss")</script> Unresponsive patient in resus, need allergies.', /plain text/],
      ['img onerror', 'Unresponsive patient "><img src=x onerror=alert(document.domain)> need allergies now', /plain text/],
    ];
    for (const [name, justification, message] of cases) {
      await fillPrompt(page, { reason: 'Emergency treatment', justification });
      await expect(error, name).toHaveText(message);
      await expect(page.getByTestId('justification-error'), name).toHaveText(message);
      await expect(page, name).toHaveURL(pathIs(`/patients/${patientId}/break-glass`));
      // What was typed comes back as text in the field, not as markup in the page.
      await expect(page.getByLabel('Justification'), name).toHaveValue(justification);
    }
    await expect(page.locator('img[src="x"]')).toHaveCount(0);
    expect(await page.evaluate(() => document.querySelectorAll('main script').length)).toBe(0);

    await fillPrompt(page, { reason: 'Emergency treatment', justification: JUSTIFICATION, secret: 'not-my-password' });
    await expect(error).toHaveText(/password or authentication code was not accepted/);

    await page.goto(`/patients/${patientId}`);
    await expect(page.getByTestId('access-denied')).toBeVisible();
    await expect(page.getByTestId('break-glass-banner')).toHaveCount(0);
    expect(dialogs).toEqual([]);
    await logout(page);
  });

  test('a grant expires after its window on the server clock: denied again, banner gone', async ({ page }) => {
    const patientId = candidates.find((id) => !staffTeam.has(id))!;
    expect(patientId, 'a patient outside staff07’s care team').toBeTruthy();
    try {
      await login(page, STAFF);
      await expect(page).toHaveURL(pathIs('/patients'));
      await page.goto(`/patients/${patientId}`);
      await page.getByTestId('access-denied').getByRole('link', { name: 'Emergency access' }).click();
      await fillPrompt(page, { reason: 'Covering for the treating clinician', justification: 'Covering for the attending overnight on ward 4; paged about new chest pain.' });
      const banner = page.getByTestId('break-glass-banner');
      await expect(banner).toContainText(/(59|60) minutes left/);

      // Ten minutes at a time, with a request in between, so the 15-minute idle limit never hits.
      for (const left of [50, 40, 30, 20, 10]) {
        await moveClock(page, { advanceMs: 10 * 60_000 });
        await page.reload();
        await expect(banner).toContainText(new RegExp(`(${left - 1}|${left}) minutes? left`));
      }
      await moveClock(page, { advanceMs: 10 * 60_000 + 5_000 });
      await page.reload();
      await expect(page.getByTestId('access-denied')).toBeVisible();
      await expect(page.getByTestId('break-glass-banner')).toHaveCount(0);
      await expect(page.locator('section[data-section]')).toHaveCount(0);
      await expect(page.getByTestId('access-denied').getByRole('link', { name: 'Emergency access' })).toBeVisible();
    } finally {
      await moveClock(page, { reset: true });
    }
    await logout(page);
  });

  test('billing and admin are not offered emergency access, and a forged post is refused and audited', async ({ browser }) => {
    const patientId = candidates[3]!;
    // The real form, as the server renders it for a physician (hidden action fields included).
    const physician2 = await signedIn(browser, 'physician2');
    const formHtml = await (await physician2.request.get(`/patients/${patientId}/break-glass`)).text();
    await logout(physician2);
    await physician2.context().close();
    expect(formHtml).toContain('data-testid="break-glass-form"');

    const admin = await signedIn(browser, 'admin');
    await admin.goto(`/patients/${patientId}`);
    await expect(admin.getByTestId('access-denied')).toBeVisible();
    await expect(admin.getByTestId('access-denied').getByRole('link', { name: 'Emergency access' })).toHaveCount(0);
    await admin.goto(`/patients/${patientId}/break-glass`);
    await expect(admin.getByTestId('break-glass-refused')).toContainText('not available');
    await expect(admin.getByTestId('break-glass-form')).toHaveCount(0);
    await logout(admin);
    await admin.context().close();

    const billing = await signedIn(browser, 'billing');
    await billing.goto(`/patients/${patientId}/break-glass`);
    await expect(billing.getByTestId('break-glass-refused')).toContainText('not available');
    await expect(billing.getByTestId('break-glass-form')).toHaveCount(0);
    await expect(billing.getByRole('main').getByRole('link', { name: 'Emergency access' })).toHaveCount(0);

    // Forge: post the physician's form (its hidden action fields and all) with billing's cookies,
    // as a no-JS form submission would.
    const fields = await billing.evaluate((html) => {
      const form = new DOMParser().parseFromString(html, 'text/html').querySelector('form[data-testid="break-glass-form"]')!;
      return [...form.querySelectorAll('input[type="hidden"]')].map((i) => [(i as HTMLInputElement).name, (i as HTMLInputElement).value]);
    }, formHtml);
    expect(fields.some(([name]) => name!.startsWith('$ACTION')), 'the form carries its server action').toBe(true);
    const origin = new URL(billing.url()).origin;
    const forged = await billing.request.post(`/patients/${patientId}/break-glass`, {
      headers: { origin },
      multipart: {
        ...Object.fromEntries(fields),
        reasonCode: 'emergency_treatment',
        justification: JUSTIFICATION,
        secret: DEMO_PASSWORD,
      },
    });
    expect(forged.status()).toBeLessThan(500);
    expect(await forged.text()).not.toContain('data-testid="break-glass-banner"');
    await billing.goto(`/patients/${patientId}`);
    await expect(billing.getByTestId('break-glass-banner')).toHaveCount(0);
    await logout(billing);
    await billing.context().close();

    // The refusal is in the trail, and in front of the privacy officer.
    const privacy = await signedIn(browser, 'privacy');
    await privacy.goto('/admin/break-glass');
    const refusals = privacy.getByTestId('break-glass-refusals');
    await expect(refusals.locator('tr[data-reason="not_permitted"]').filter({ hasText: 'billing@vigil.test' })).toHaveCount(1);
    await expect(privacy.getByTestId('break-glass-queue')).not.toContainText('billing@vigil.test');
    await privacy.context().close();
  });
  test('admins set the window within bounds; privacy officers see it', async ({ browser }) => {
    const admin = await signedIn(browser, 'admin');
    await admin.getByRole('link', { name: 'Break-glass window' }).click();
    await expect(admin).toHaveURL(pathIs('/admin/break-glass/settings'));
    await expect(admin.getByTestId('window-minutes')).toHaveText('60 minutes');
    const form = admin.getByTestId('window-form');
    try {
      for (const [value, message] of [['5', 'at least 15'], ['500', 'at most 240']] as const) {
        await form.getByLabel('Minutes').fill(value);
        await form.getByLabel('Your password').fill(DEMO_PASSWORD);
        // The browser's own min/max check would stop the post: the server's check is what counts.
        await form.evaluate((f) => ((f as HTMLFormElement).noValidate = true));
        await form.getByRole('button', { name: 'Save' }).click();
        await expect(form.getByRole('alert')).toContainText(message);
      }
      await form.getByLabel('Minutes').fill('45');
      await form.getByLabel('Your password').fill(DEMO_PASSWORD);
      await form.getByRole('button', { name: 'Save' }).click();
      await expect(form.getByRole('status')).toHaveText('Saved: new grants last 45 minutes.');
      const privacy = await signedIn(browser, 'privacy');
      await privacy.goto('/admin/break-glass/settings');
      await expect(privacy.getByTestId('window-minutes')).toHaveText('45 minutes');
      await expect(privacy.getByTestId('window-form')).toHaveCount(0);
      await privacy.context().close();
    } finally {
      await admin.goto('/admin/break-glass/settings');
      await admin.getByTestId('window-form').getByLabel('Minutes').fill('60');
      await admin.getByTestId('window-form').getByLabel('Your password').fill(DEMO_PASSWORD);
      await admin.getByTestId('window-form').getByRole('button', { name: 'Save' }).click();
      await expect(admin.getByTestId('window-form').getByRole('status')).toHaveText('Saved: new grants last 60 minutes.');
    }
    await admin.context().close();
  });
});
