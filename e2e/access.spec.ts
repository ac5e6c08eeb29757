import { expect, test, type Browser, type Page, type Response } from '@playwright/test';
import { alerts, approveRequest, DEMO_PASSWORD, expectNoStackTrace, login, loginAs, pathIs, submitLogin, USERS, UUID, type DemoUser } from './helpers';

/**
 * Role lenses end to end: each role sees its own lens of the chart and nothing else reaches the
 * browser — not in the DOM, not in the HTML, not in the RSC payload; denied charts show the 403
 * page; and an admin creates a nurse, puts them on a care team, and disables them mid-session.
 */

const SECTIONS = ['demographics', 'insurance', 'allergies', 'medications', 'problems', 'vitals', 'progress_notes', 'nursing_notes', 'encounters'] as const;
const LENS: Record<'physician' | 'nurse' | 'billing', readonly string[]> = {
  physician: SECTIONS,
  nurse: ['demographics', 'allergies', 'medications', 'problems', 'vitals', 'nursing_notes'],
  billing: ['demographics', 'insurance', 'encounters'],
};
/** Seeded MRNs are 40000000 + index; billing covers the first 100 of the 200 demo patients. */
const MRN_OUTSIDE_EVERY_TEAM = '40000150';
const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const PROGRESS_MARKER = `PN-MARKER-${run}`;
const NURSING_MARKER = `NN-MARKER-${run}`;

async function expectLens(page: Page, lens: readonly string[]): Promise<void> {
  await expect(page.locator('section[data-section="demographics"]')).toBeVisible();
  for (const section of SECTIONS) {
    await expect(page.locator(`section[data-section="${section}"]`), `${section} ${lens.includes(section) ? 'shown' : 'absent'}`).toHaveCount(lens.includes(section) ? 1 : 0);
  }
}

/** Every response body (HTML documents, RSC payloads, scripts) while `action` runs. */
async function captureResponses(page: Page, action: () => Promise<void>): Promise<Array<{ url: string; type: string; body: string }>> {
  const pending: Array<Promise<{ url: string; type: string; body: string }>> = [];
  const onResponse = (response: Response) => {
    pending.push(
      response
        .body()
        .then((b) => b.toString('utf8'))
        .catch(() => '') // redirects have no body
        .then((body) => ({ url: response.url(), type: response.headers()['content-type'] ?? '', body })),
    );
  };
  page.on('response', onResponse);
  try {
    await action();
    await page.waitForLoadState('networkidle');
  } finally {
    page.off('response', onResponse);
  }
  return Promise.all(pending);
}

async function addNote(page: Page, section: 'progress_notes' | 'nursing_notes', text: string): Promise<void> {
  const card = page.locator(`section[data-section="${section}"]`);
  await card.getByLabel('New note').fill(text);
  await card.getByRole('button', { name: 'Add note' }).click();
  await expect(card.getByRole('status')).toHaveText('Saved.');
  await expect(card.getByText(text)).toBeVisible();
}

async function withUser<T>(browser: Browser, who: DemoUser, work: (page: Page) => Promise<T>): Promise<T> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await loginAs(page, who);
    return await work(page);
  } finally {
    await context.close();
  }
}

let chartPath = '';

test.describe('role-scoped chart views', () => {
  test.describe.configure({ mode: 'serial' });
  test('physician sees every section and writes a progress-note marker', async ({ browser }) => {
    await withUser(browser, 'physician', async (page) => {
      const first = page.locator('table a[href^="/patients/"]').first();
      chartPath = (await first.getAttribute('href')) ?? '';
      expect(chartPath).toMatch(new RegExp(`^/patients/${UUID.source}$`, 'i'));
      await page.goto(chartPath);
      await expectLens(page, LENS.physician);
      await addNote(page, 'progress_notes', PROGRESS_MARKER);
    });
  });

  test('nurse: the nurse lens, and the progress note never reaches the browser', async ({ browser }) => {
    await withUser(browser, 'nurse', async (page) => {
      // Client-side navigation from the list (an RSC payload), then a full load (HTML + inline RSC).
      const viaList = await captureResponses(page, async () => {
        await page.locator(`table a[href="${chartPath}"]`).click();
        await expect(page).toHaveURL(pathIs(chartPath));
        await expectLens(page, LENS.nurse);
      });
      expect(viaList.some((r) => r.type.includes('text/x-component')), 'an RSC payload was captured').toBe(true);
      const direct = await captureResponses(page, async () => {
        await page.goto(chartPath);
        await expectLens(page, LENS.nurse);
      });
      expect(direct.some((r) => r.type.includes('text/html') && r.body.includes('data-section')), 'the chart HTML was captured').toBe(true);
      for (const response of [...viaList, ...direct]) {
        expect(response.body, `progress note in ${response.url}`).not.toContain(PROGRESS_MARKER);
      }
      await expect(page.locator('body')).not.toContainText(PROGRESS_MARKER);
      await addNote(page, 'nursing_notes', NURSING_MARKER);
      await expectNoStackTrace(page);
    });
  });

  test('billing: the billing lens, and neither note reaches the browser', async ({ browser }) => {
    await withUser(browser, 'billing', async (page) => {
      const viaList = await captureResponses(page, async () => {
        await page.locator(`table a[href="${chartPath}"]`).click();
        await expect(page).toHaveURL(pathIs(chartPath));
        await expectLens(page, LENS.billing);
      });
      const direct = await captureResponses(page, async () => {
        await page.goto(chartPath);
        await expectLens(page, LENS.billing);
      });
      expect(viaList.some((r) => r.type.includes('text/x-component'))).toBe(true);
      for (const response of [...viaList, ...direct]) {
        expect(response.body, `progress note in ${response.url}`).not.toContain(PROGRESS_MARKER);
        expect(response.body, `nursing note in ${response.url}`).not.toContain(NURSING_MARKER);
      }
      // Billing changes a billing status, and only that: no note or vitals forms exist.
      await expect(page.locator('textarea, input[name="heartRate"]')).toHaveCount(0);
      const encounter = page.locator('section[data-section="encounters"] tbody tr').first();
      const current = await encounter.getByLabel('Billing status').inputValue();
      await encounter.getByLabel('Billing status').selectOption(current === 'submitted' ? 'paid' : 'submitted');
      await encounter.getByRole('button', { name: 'Set' }).click();
      await expect(encounter.getByRole('status')).toHaveText('Billing status updated.');
    });
  });

  test('the markers are real: the physician sees both notes', async ({ browser }) => {
    await withUser(browser, 'physician', async (page) => {
      const bodies = await captureResponses(page, () => page.goto(chartPath).then(() => undefined));
      expect(bodies.some((r) => r.body.includes(PROGRESS_MARKER))).toBe(true);
      await expect(page.locator('section[data-section="nursing_notes"]')).toContainText(NURSING_MARKER);
    });
  });
});

test.describe('denied charts', () => {
  test.describe.configure({ mode: 'serial' });
  let outsidePath = '';

  test('admin finds a patient by MRN and sees only the id and MRN', async ({ browser }) => {
    await withUser(browser, 'admin', async (page) => {
      await page.goto('/admin/care-teams');
      await page.getByLabel('Medical record number (MRN)').fill(MRN_OUTSIDE_EVERY_TEAM);
      await page.getByRole('button', { name: 'Find' }).click();
      await expect(page).toHaveURL(/\/admin\/care-teams\?patient=/);
      expect(page.url()).not.toContain(MRN_OUTSIDE_EVERY_TEAM);
      const team = page.getByTestId('care-team');
      await expect(team).toContainText(`MRN ${MRN_OUTSIDE_EVERY_TEAM}`);
      outsidePath = `/patients/${await page.getByTestId('patient-id').innerText()}`;
      await expect(team).toContainText('Nobody is on this patient’s care team.');
    });
  });

  test('physician2 gets the 403 page with the emergency-access offer', async ({ browser }) => {
    await withUser(browser, 'physician2', async (page) => {
      for (const path of [chartPath, outsidePath]) {
        const responses = await captureResponses(page, () => page.goto(path).then(() => undefined));
        const denied = page.getByTestId('access-denied');
        await expect(denied).toBeVisible();
        await expect(denied.getByRole('link', { name: 'Emergency access' })).toBeVisible();
        await expect(page.locator('section[data-section]')).toHaveCount(0);
        for (const r of responses) {
          expect(r.body).not.toContain(PROGRESS_MARKER);
          expect(r.body).not.toContain(MRN_OUTSIDE_EVERY_TEAM);
        }
      }
    });
  });

  test('billing outside its scope gets the 403 page with no offer', async ({ browser }) => {
    await withUser(browser, 'billing', async (page) => {
      await page.goto(outsidePath);
      await expect(page.getByTestId('access-denied')).toBeVisible();
      await expect(page.getByRole('link', { name: 'Emergency access' })).toHaveCount(0);
      await expect(page.locator('section[data-section]')).toHaveCount(0);
    });
  });

  test('a clinician on an admin page gets the admin 403, and a guessed chart id a denial', async ({ browser }) => {
    await withUser(browser, 'physician2', async (page) => {
      for (const path of ['/admin/users', '/admin/roles', '/admin/care-teams']) {
        await page.goto(path);
        await expect(page.getByTestId('admin-denied')).toBeVisible();
      }
      await page.goto('/patients/00000000-0000-4000-8000-000000000000');
      await expect(page.getByTestId('access-denied')).toBeVisible();
      await expect(page.getByRole('link', { name: 'Emergency access' })).toHaveCount(0);
    });
  });
});

test.describe('admin: create a nurse, put them on a care team, disable them mid-session', () => {
  test('the whole path', async ({ browser }) => {
    const email = `e2e-nurse-${run}@vigil.test`;
    const password = `Temp-${run}-password`;
    const adminContext = await browser.newContext();
    const nurseContext = await browser.newContext();
    try {
      const admin = await adminContext.newPage();
      await loginAs(admin, 'admin');

      // 1. Create the account (no role yet), with a field error first.
      await admin.goto('/admin/users/new');
      const create = admin.getByTestId('create-user-form');
      await create.getByLabel('Email', { exact: true }).fill(email);
      await create.getByLabel('Name', { exact: true }).fill('E2E Nurse');
      await create.getByLabel('Temporary password').fill(password);
      await create.getByLabel('Repeat the password').fill(`${password}-typo`);
      await create.getByRole('button', { name: 'Create user' }).click();
      await expect(create.getByText('The two passwords do not match.')).toBeVisible();
      await expect(create.getByLabel('Email', { exact: true })).toHaveValue(email);
      await create.getByLabel('Temporary password').fill(password);
      await create.getByLabel('Repeat the password').fill(password);
      await create.getByRole('button', { name: 'Create user' }).click();
      await expect(admin).toHaveURL(new RegExp(`/admin/users/${UUID.source}$`, 'i'));
      await expect(admin.getByTestId('user-detail')).toHaveAttribute('data-email', email);

      // 2. Give them the nurse role, confirming with the admin's password: it waits for a second
      //    administrator, who approves it.
      const rolesForm = admin.getByTestId('roles-form');
      await rolesForm.getByLabel(/^Nurse/).check();
      await rolesForm.getByLabel('Your password').fill(DEMO_PASSWORD);
      await rolesForm.getByRole('button', { name: 'Save roles' }).click();
      await expect(rolesForm.getByRole('status')).toContainText('Sent for approval');
      await approveRequest(browser, 'admin2', email);
      await admin.reload();
      await expect(admin.getByTestId('user-roles')).toHaveText('Nurse');

      // 3. Put them on a patient's care team (found by MRN).
      await admin.goto('/admin/care-teams');
      await admin.getByLabel('Medical record number (MRN)').fill('40000001');
      await admin.getByRole('button', { name: 'Find' }).click();
      const assign = admin.getByTestId('assign-form');
      await assign.getByLabel('Staff member').selectOption({ label: `E2E Nurse — ${email} (Nurse)` });
      await assign.getByLabel('Relationship').selectOption('nursing');
      await assign.getByRole('button', { name: 'Add to care team' }).click();
      await expect(assign.getByRole('status')).toContainText('added to the care team');
      await expect(admin.getByTestId('care-team').locator(`tr[data-email="${email}"]`)).toBeVisible();

      // 4. They sign in elsewhere and see the nurse view of that one patient.
      const nurse = await nurseContext.newPage();
      await login(nurse, email, password);
      await expect(nurse).toHaveURL(pathIs('/patients'));
      const rows = nurse.locator('table a[href^="/patients/"]');
      await expect(rows).toHaveCount(1);
      await rows.first().click();
      await expectLens(nurse, LENS.nurse);
      await expect(nurse.locator('section[data-section="demographics"]')).toContainText('40000001');

      // 5. The admin disables them (with confirmation); their open session is refused next time.
      await admin.goto('/admin/users');
      await admin.locator(`tr[data-email="${email}"] a`).click();
      const disable = admin.getByTestId('disable-form');
      await disable.getByRole('button', { name: 'Disable account…' }).click();
      await expect(disable).toContainText('Every open session ends at once');
      await disable.getByLabel('Reason').selectOption('left_organisation');
      await disable.getByRole('button', { name: `Disable ${email}` }).click();
      await expect(admin.getByTestId('status-panel').getByRole('status')).toContainText('1 open session ended');

      await nurse.goto('/patients');
      await expect(nurse).toHaveURL(pathIs('/login'));
      await submitLogin(nurse, email, password);
      await expect(alerts(nurse).first()).toBeVisible();
      await expect(nurse).toHaveURL(pathIs('/login'));

      await admin.goto('/admin/users');
      await expect(admin.locator(`tr[data-email="${email}"] [data-status]`)).toHaveAttribute('data-status', 'disabled');
      await expectNoStackTrace(admin);
    } finally {
      await adminContext.close();
      await nurseContext.close();
    }
  });

  test("an admin's own account page offers no role, disable or password changes", async ({ page }) => {
    await loginAs(page, 'admin');
    await page.goto('/admin/users');
    await page.locator(`tr[data-email="${USERS.admin}"] a`).click();
    await expect(page.getByTestId('self-notice')).toBeVisible();
    await expect(page.getByTestId('roles-form')).toHaveCount(0);
    await expect(page.getByTestId('disable-form')).toHaveCount(0);
    await expect(page.getByTestId('reset-form')).toHaveCount(0);
  });

  test('a password reset ends the person’s session and replaces the password (staff03)', async ({ browser }) => {
    const staffEmail = 'staff03@vigil.test';
    const newPassword = `Reset-${run}-password`;
    const staffContext = await browser.newContext();
    const adminContext = await browser.newContext();
    try {
      const staff = await staffContext.newPage();
      await login(staff, staffEmail);
      const admin = await adminContext.newPage();
      await loginAs(admin, 'admin');
      await admin.goto('/admin/users');
      await admin.locator(`tr[data-email="${staffEmail}"] a`).click();
      const reset = admin.getByTestId('reset-form');
      await reset.getByLabel('New password', { exact: true }).fill('too-short');
      await reset.getByLabel('Repeat the new password').fill('too-short');
      await reset.getByLabel('Your password').fill(DEMO_PASSWORD);
      await reset.evaluate((form) => form.setAttribute('novalidate', ''));
      await reset.getByRole('button', { name: 'Set new password' }).click();
      await expect(reset.getByText('Use at least 12 characters.')).toBeVisible();
      await reset.getByLabel('New password', { exact: true }).fill(newPassword);
      await reset.getByLabel('Repeat the new password').fill(newPassword);
      await reset.getByLabel('Your password').fill(DEMO_PASSWORD);
      await reset.getByRole('button', { name: 'Set new password' }).click();
      await expect(reset.getByRole('status')).toContainText('Sent for approval');
      await approveRequest(browser, 'admin2', staffEmail);

      await staff.goto('/patients');
      await expect(staff).toHaveURL(pathIs('/login'));
      await login(staff, staffEmail, newPassword);
      await expect(staff).toHaveURL(pathIs('/patients'));
    } finally {
      await staffContext.close();
      await adminContext.close();
    }
  });
});
