import { expect, test, type Page } from '@playwright/test';
import {
  alerts,
  DEMO_PASSWORD,
  expectNoStackTrace,
  LANDING,
  login,
  loginAs,
  logout,
  pathIs,
  submitLogin,
  USERS,
  UUID,
  type DemoUser,
} from './helpers';

const ROLE_TEXT: Record<DemoUser, RegExp> = {
  physician: /physician/i,
  physician2: /physician/i,
  nurse: /nurse/i,
  billing: /billing/i,
  admin: /admin/i,
  admin2: /admin/i,
  privacy: /privacy/i,
};

const SECTIONS = [
  'demographics',
  'insurance',
  'allergies',
  'medications',
  'problems',
  'vitals',
  'progress_notes',
  'nursing_notes',
  'encounters',
];

const CHART_URL = new RegExp(`/patients/${UUID.source}/?(?:[?#].*)?$`, 'i');

/** Top bar shows who is signed in: a display name and the role. */
async function expectCurrentUser(page: Page, who: DemoUser): Promise<void> {
  const me = page.getByTestId('current-user');
  await expect(me).toBeVisible();
  await expect(me).toContainText(ROLE_TEXT[who]);
  const rest = (await me.innerText()).replace(ROLE_TEXT[who], '').replace(/[\s·|(),:-]+/g, '');
  expect(rest.length, 'current-user should also show a display name').toBeGreaterThan(1);
}

/** Not signed in: a protected page sends the browser to /login. */
async function expectRedirectedToLogin(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await expect(page).toHaveURL(pathIs('/login'));
  await expect(page.getByLabel('Email', { exact: true })).toBeVisible();
}

test.describe('clinicians: sign in, list, chart, sign out', () => {
  for (const who of ['physician', 'nurse', 'billing'] as const) {
    test(`${who} signs in, opens the first chart and signs out`, async ({ page }) => {
      await loginAs(page, who);
      await expectCurrentUser(page, who);

      // Patient list: a search box and rows linking to /patients/<uuid>.
      await expect(page.getByLabel('Search patients')).toBeVisible();
      const table = page.locator('table');
      await expect(table.first()).toBeVisible();
      const hrefs = await table.locator('a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
      const chartHrefs = hrefs.filter((h) => CHART_URL.test(h));
      expect(chartHrefs.length, `patient rows linking to /patients/<uuid>; got ${hrefs.join(', ')}`).toBeGreaterThan(0);

      await table.locator(`a[href="${chartHrefs[0]}"]`).first().click();
      await expect(page).toHaveURL(CHART_URL);

      // Chart: at least demographics; every section is a known one with a heading.
      const demographics = page.locator('section[data-section="demographics"]');
      await expect(demographics).toBeVisible();
      await expect(demographics.locator('h2')).toBeVisible();
      const shown = await page.locator('section[data-section]').evaluateAll((ss) =>
        ss.map((s) => ({ name: s.getAttribute('data-section') ?? '', h2: !!s.querySelector('h2') })),
      );
      for (const s of shown) {
        expect(SECTIONS, `unknown chart section "${s.name}"`).toContain(s.name);
        expect(s.h2, `section ${s.name} has an h2`).toBe(true);
      }
      await expectNoStackTrace(page);

      await logout(page);
      await expectRedirectedToLogin(page, '/patients');
    });
  }

  test('signing out revokes the session on the server (a replayed cookie is refused)', async ({ page, browser }) => {
    await loginAs(page, 'physician');
    const cookies = await page.context().cookies();
    await logout(page);

    // Same cookies in a fresh browser: the session row is revoked, so this must not get in.
    const replay = await browser.newContext();
    try {
      await replay.addCookies(cookies);
      const p = await replay.newPage();
      await p.goto('/patients');
      await expect(p).toHaveURL(pathIs('/login'));
    } finally {
      await replay.close();
    }
  });
});

test.describe('administrative roles land on their pages', () => {
  for (const who of ['admin', 'privacy'] as const) {
    test(`${who} signs in to ${LANDING[who]}`, async ({ page }) => {
      await loginAs(page, who);
      await expectCurrentUser(page, who);
      await expectNoStackTrace(page);
      await logout(page);
      await expectRedirectedToLogin(page, LANDING[who]);
    });
  }
});

test.describe('sign-in failures', () => {
  /** The server refused the sign-in: still on /login, its message shown, nothing leaked. */
  async function expectRefused(page: Page): Promise<string> {
    let message = '';
    await expect(async () => {
      expect(page.url()).toMatch(pathIs('/login'));
      await expectNoStackTrace(page); // fail with the leak itself, not "no alert"
      const alert = alerts(page).first();
      if (!(await alert.isVisible())) throw new Error('no role="alert" message shown');
      message = (await alert.innerText()).replace(/\s+/g, ' ').trim();
    }).toPass({ timeout: 15_000 });
    expect(message.length).toBeGreaterThan(0);
    await expect(page.getByLabel('Email', { exact: true })).toBeVisible();
    await expectNoStackTrace(page);
    return message;
  }

  test('wrong password and unknown user get the same message', async ({ page }) => {
    // physician2 is not used by the happy-path tests, so a failed attempt can't lock them out.
    await submitLogin(page, USERS.physician2, `${DEMO_PASSWORD}-wrong`);
    const wrongPassword = await expectRefused(page);

    await submitLogin(page, 'nobody-here@vigil.test', DEMO_PASSWORD);
    const unknownUser = await expectRefused(page);

    expect(unknownUser, 'must not reveal whether the account exists').toBe(wrongPassword);
    await expectRedirectedToLogin(page, '/patients');
  });

  /**
   * Submits the login form with the browser's own checks taken away (no required, maxlength or
   * type=email constraints, noValidate), as a crafted post would arrive: only the server refuses.
   */
  async function submitUnchecked(page: Page, email: string, password: string): Promise<void> {
    await page.goto('/login');
    // The password form (the page may also offer the hospital sign-in, a form of its own).
    await page.locator('form').filter({ has: page.getByLabel('Email', { exact: true }) }).evaluate((form: HTMLFormElement) => {
      form.noValidate = true;
      for (const input of Array.from(form.querySelectorAll('input'))) {
        input.removeAttribute('required');
        input.removeAttribute('maxlength');
        input.removeAttribute('pattern');
        if (input.type === 'email') input.type = 'text';
      }
    });
    const emailField = page.getByLabel('Email', { exact: true });
    await emailField.fill(email);
    expect(await emailField.inputValue(), 'the whole value reaches the server').toHaveLength(email.length);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  // The server's input messages: a refusal before any account is looked up, never the
  // "email or password is incorrect" answer an attempt on an account gets.
  test('empty form is refused by the server with a message', async ({ page }) => {
    await submitUnchecked(page, '', '');
    expect(await expectRefused(page)).toBe('Enter your email and password.');
    await expectRedirectedToLogin(page, '/patients');
  });

  test('a 10,000-character email is refused by the server cleanly', async ({ page }) => {
    const email = `${'a'.repeat(10_000)}@vigil.test`;
    await submitUnchecked(page, email, DEMO_PASSWORD);
    const message = await expectRefused(page);
    expect(message).toBe('That email address is too long.');
    await expect(page.locator('body')).not.toContainText('a'.repeat(300));
    await expectRedirectedToLogin(page, '/patients');
  });

  test('a real account still signs in after the failures above', async ({ page }) => {
    await login(page, USERS.physician2);
    await expect(page).toHaveURL(pathIs('/patients'));
  });
});

// A slow ward PC can submit before React hydrates; the forms are server actions and must work as
// plain HTML posts too. (Catches e.g. `Referrer-Policy: no-referrer`, which makes Chromium send
// `Origin: null` on form posts, and Next then rejects every server action with a 500.)
test.describe('without client JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('sign-in, a refused sign-in and sign-out still work', async ({ page }) => {
    await submitLogin(page, 'nobody-nojs@vigil.test', DEMO_PASSWORD);
    await expect(alerts(page).first()).toBeVisible();
    await expectNoStackTrace(page);

    await login(page, USERS.nurse);
    await expect(page).toHaveURL(pathIs(LANDING.nurse));
    await expectNoStackTrace(page);
    await logout(page);
    await expectRedirectedToLogin(page, '/patients');
  });
});

test.describe('protected pages need a session', () => {
  for (const path of ['/patients', '/patients/00000000-0000-4000-8000-000000000000', '/admin/users', '/admin/audit']) {
    test(`${path} redirects to /login`, async ({ page }) => {
      await expectRedirectedToLogin(page, path);
      await expectNoStackTrace(page);
    });
  }
});
