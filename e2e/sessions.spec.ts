import { expect, test, type APIRequestContext, type Page, type PlaywrightWorkerArgs } from '@playwright/test';
import { generate } from 'otplib';
import { MFA_DEMO_ACCOUNT } from '../db/demo-mfa';
import { alerts, DEMO_PASSWORD, login, loginAs, logout, pathIs, submitLogin, UUID } from './helpers';

// Session security: idle and absolute timeouts, revocation, MFA. Destructive scenarios use this
// helper's own accounts: staff01 for timeouts and sessions, staff02 for MFA enrolment, mfa@ for
// TOTP sign-in. Tests that move the server clock reset it afterwards, whatever happens.

const STAFF = 'staff01@vigil.test';
const ENROLLING = 'staff02@vigil.test';
const MINUTE = 60_000;
const CHART_LINK = new RegExp(`^/patients/${UUID.source}$`, 'i');
const SESSION_COOKIE = /^(__Host-|__Secure-)?authjs\.session-token$/;

test.describe.configure({ mode: 'serial' });

test.afterEach(async ({ request }) => {
  await request.post('/api/test/clock', { data: { reset: true } });
});

async function serverClock(request: APIRequestContext, body: { advanceMs?: number; reset?: boolean }): Promise<Date> {
  const response = await request.post('/api/test/clock', { data: body });
  expect(response.ok(), 'the test clock route answers (VIGIL_TEST_CLOCK=1)').toBe(true);
  return new Date((await response.json()).now);
}

/** Moves the server's clock and the browser's together (server first: it decides). */
async function advance(page: Page, request: APIRequestContext, ms: number): Promise<void> {
  await serverClock(request, { advanceMs: ms });
  await page.clock.fastForward(ms);
}

/** Opens the first chart of the list with a full page load (no click, which would count as activity). */
async function openFirstChart(page: Page): Promise<{ url: string; name: string }> {
  await expect(page).toHaveURL(pathIs('/patients'));
  const link = page.locator('table a[href^="/patients/"]').first();
  const url = (await link.getAttribute('href')) ?? '';
  expect(url).toMatch(CHART_LINK);
  const name = (await link.innerText()).trim();
  await page.goto(url);
  await expect(page.locator('section[data-section="demographics"]')).toBeVisible();
  return { url, name };
}

async function sessionCookie(page: Page) {
  const cookie = (await page.context().cookies()).find((c) => SESSION_COOKIE.test(c.name));
  expect(cookie, 'a session cookie after sign-in').toBeDefined();
  return cookie!;
}

/** A direct request carrying only the given cookie, as a thief replaying it would send it. */
async function replay(playwright: PlaywrightWorkerArgs['playwright'], baseURL: string | undefined, cookie: { name: string; value: string }, path: string) {
  const context = await playwright.request.newContext({ baseURL, extraHTTPHeaders: { cookie: `${cookie.name}=${cookie.value}` } });
  try {
    const response = await context.get(path);
    return { url: response.url(), body: await response.text() };
  } finally {
    await context.dispose();
  }
}

test.describe('idle timeout', () => {
  test('warns two minutes ahead, "Stay signed in" extends, at zero the chart goes and the old cookie is refused', async ({ page, request, playwright, baseURL }) => {
    await serverClock(request, { reset: true });
    await page.clock.install();
    await login(page, STAFF);
    const chart = await openFirstChart(page);
    const cookie = await sessionCookie(page);
    const dialog = page.getByRole('alertdialog');
    const countdown = dialog.getByTestId('idle-countdown');
    await expect(dialog).toBeHidden();

    // 13:10 idle: the warning, with a live countdown, over a chart still there.
    await advance(page, request, 13 * MINUTE + 10_000);
    await expect(dialog).toBeVisible();
    await expect(dialog).toContainText('15 minutes');
    await expect(countdown).toHaveText(/^1:[45]\d$/);
    const shown = await countdown.innerText();
    await advance(page, request, 5_000);
    await expect(countdown).not.toHaveText(shown);

    // "Stay signed in" is a server round trip that restarts the idle clock.
    await dialog.getByRole('button', { name: 'Stay signed in' }).click();
    await expect(dialog).toBeHidden();
    // 13:10 later the warning is back: without the extension this would be 26 minutes idle.
    await advance(page, request, 13 * MINUTE + 10_000);
    await expect(dialog).toBeVisible();
    await expect(page.locator('section[data-section="demographics"]')).toBeVisible();

    // No action: at zero the screen is cleared before the server has even answered. (The
    // navigation to the server is held, so the check listens from inside the page.)
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let asked = false;
    await page.route('**/api/session/timeout**', async (route) => {
      asked = true;
      await held;
      await route.continue();
    });
    const cleared = new Promise<string>((resolve) => page.on('console', (m) => m.text().startsWith('cleared:') && resolve(m.text())));
    await page.evaluate(() => {
      const observer = new MutationObserver(() => {
        if (document.querySelector('section[data-section]')) return;
        observer.disconnect();
        console.log(`cleared:${document.body.innerText.trim()}`);
      });
      observer.observe(document.body, { childList: true, subtree: true });
    });
    await advance(page, request, 2 * MINUTE);
    expect(await cleared).toBe('cleared:Signed out after inactivity.');
    await expect.poll(() => asked).toBe(true);
    release();

    // …then the server ends the session and the sign-in page says why.
    await expect(page).toHaveURL(/\/login\?reason=timeout$/);
    await expect(page.getByText('You were signed out after 15 minutes of inactivity.')).toBeVisible();
    await expect(page.locator('section[data-section]')).toHaveCount(0);
    expect((await page.context().cookies()).some((c) => SESSION_COOKIE.test(c.name)), 'session cookie cleared').toBe(false);

    // The old cookie, replayed directly, is refused by the server.
    const replayed = await replay(playwright, baseURL, cookie, chart.url);
    expect(replayed.url).toMatch(/\/login\?reason=timeout$/);
    expect(replayed.body).not.toContain(chart.name);
  });

  test('the server enforces the limit on its own, whatever the browser does', async ({ page, request }) => {
    await serverClock(request, { reset: true });
    await login(page, STAFF);
    const chart = await openFirstChart(page);
    await serverClock(request, { advanceMs: 15 * MINUTE + 1_000 });
    await page.reload();
    await expect(page).toHaveURL(/\/login\?reason=timeout$/);
    await expect(page.getByText(chart.name)).toHaveCount(0);
  });

  test('activity in one tab counts for the others, and signing out clears every tab', async ({ page, request }) => {
    await serverClock(request, { reset: true });
    await page.clock.install();
    await login(page, STAFF);
    const other = await page.context().newPage();
    await other.goto('/patients');
    await openFirstChart(other);

    await advance(page, request, 13 * MINUTE + 10_000);
    await expect(page.getByRole('alertdialog')).toBeVisible();
    await expect(other.getByRole('alertdialog')).toBeVisible();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Stay signed in' }).click();
    await expect(page.getByRole('alertdialog')).toBeHidden();
    await expect(other.getByRole('alertdialog')).toBeHidden();

    await logout(page);
    await expect(other).toHaveURL(pathIs('/login'));
    await expect(other.locator('section[data-section]')).toHaveCount(0);
  });
});

test.describe('two-factor authentication', () => {
  const codeAt = (secret: string, at: Date) => generate({ secret, epoch: Math.floor(at.getTime() / 1000) });

  async function submitCode(page: Page, code: string): Promise<void> {
    await page.getByLabel('Password', { exact: true }).fill(DEMO_PASSWORD);
    await page.getByLabel('Authentication code').fill(code);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  test('the MFA demo account signs in with the right TOTP code; wrong and replayed codes fail', async ({ page, request }) => {
    const now = await serverClock(request, { reset: true });
    const code = await codeAt(MFA_DEMO_ACCOUNT.totpSecret, now);
    await submitLogin(page, MFA_DEMO_ACCOUNT.email, DEMO_PASSWORD);
    await expect(page.getByLabel('Authentication code')).toBeVisible();
    await expect(alerts(page).first()).toContainText('Enter the 6-digit code');

    await submitCode(page, code === '000000' ? '111111' : '000000');
    await expect(alerts(page).first()).toContainText('That code did not work');
    await expect(page).toHaveURL(pathIs('/login'));

    await submitCode(page, code);
    await expect(page).toHaveURL(pathIs('/patients'));
    await logout(page);

    await submitLogin(page, MFA_DEMO_ACCOUNT.email, DEMO_PASSWORD);
    await submitCode(page, code);
    await expect(alerts(page).first()).toContainText('That code did not work');
    await expect(page).toHaveURL(pathIs('/login'));

    const next = await serverClock(request, { advanceMs: 30_000 });
    await submitCode(page, await codeAt(MFA_DEMO_ACCOUNT.totpSecret, next));
    await expect(page).toHaveURL(pathIs('/patients'));
    await logout(page);
  });

  test('enrolment: QR code, a confirming code, recovery codes once; a recovery code signs in; turning off needs re-authentication', async ({ page, request }) => {
    await serverClock(request, { reset: true });
    await login(page, ENROLLING);
    await page.goto('/account/mfa');
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    await expect(page.getByRole('img', { name: 'QR code for your authenticator app' })).toBeVisible();
    const secret = (await page.getByTestId('totp-secret').innerText()).trim();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);

    await page.getByLabel('Code from the app').fill('000000');
    await page.getByRole('button', { name: 'Turn on two-factor authentication' }).click();
    await expect(alerts(page).first()).toContainText('did not match');

    const now = await serverClock(request, {});
    await page.getByLabel('Code from the app').fill(await codeAt(secret, now));
    await page.getByRole('button', { name: 'Turn on two-factor authentication' }).click();
    const listed = page.getByTestId('recovery-codes').locator('li');
    await expect(listed).toHaveCount(10);
    const codes = (await listed.allInnerTexts()).map((c) => c.trim());
    for (const code of codes) expect(code).toMatch(/^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/);
    await page.getByRole('link', { name: /continue/ }).click();
    await expect(page.getByTestId('mfa-status')).toContainText('10 of 10 recovery codes left');
    await logout(page);

    // The password alone no longer signs in; a recovery code in the code field does, once.
    await submitLogin(page, ENROLLING, DEMO_PASSWORD);
    await expect(page.getByLabel('Authentication code')).toBeVisible();
    await submitCode(page, codes[0]!);
    await expect(page).toHaveURL(pathIs('/patients'));
    await page.goto('/account');
    await expect(page.getByTestId('mfa-status')).toContainText('9 of 10 recovery codes left');

    // Six minutes later, changing MFA asks for the factor again first: the password is refused,
    // a recovery code (the authenticator is "lost") is accepted.
    await serverClock(request, { advanceMs: 6 * MINUTE });
    await page.goto('/account/mfa');
    await expect(page.getByRole('heading', { name: 'Confirm it is you' })).toBeVisible();
    await expect(page.getByRole('button', { name: /Turn off/ })).toHaveCount(0);
    await page.getByLabel('Code or recovery code').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Confirm' }).click();
    await expect(alerts(page).first()).toContainText('That did not match');
    await page.getByLabel('Code or recovery code').fill(codes[1]!);
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('button', { name: 'Turn off two-factor authentication' }).click();
    await expect(page.getByTestId('mfa-state')).toHaveText('Two-factor authentication is off.');
    await logout(page);
    await login(page, ENROLLING); // password only again
    await logout(page);
  });
});

test.describe('sessions and cookies', () => {
  test('the session cookie is HttpOnly, SameSite=Lax and Secure, and every sign-in gets a new one (no fixation)', async ({ page, playwright, baseURL }) => {
    const earlier = await page.context().newPage();
    await earlier.goto('/login'); // a sign-in form left open in another tab
    await login(page, STAFF);
    const first = await sessionCookie(page);
    expect(first).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: true, path: '/' });

    // Signing in again from the other tab replaces the session: a new cookie, the old one dead.
    await earlier.getByLabel('Email', { exact: true }).fill(STAFF);
    await earlier.getByLabel('Password', { exact: true }).fill(DEMO_PASSWORD);
    await earlier.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(earlier).toHaveURL(pathIs('/patients'));
    const second = await sessionCookie(page);
    expect(second.value).not.toBe(first.value);
    expect((await replay(playwright, baseURL, first, '/patients')).url).toMatch(/\/login\?reason=revoked$/);
    expect((await replay(playwright, baseURL, second, '/patients')).url).toMatch(pathIs('/patients'));
    await logout(page);
  });

  test('the account page lists open sessions and "Sign out everywhere" ends them all', async ({ page, browser }) => {
    const elsewhere = await browser.newContext();
    try {
      const otherPage = await elsewhere.newPage();
      await login(otherPage, STAFF);
      await login(page, STAFF);
      await page.goto('/account');
      const rows = page.getByTestId('own-sessions').locator('tbody tr');
      expect(await rows.count()).toBeGreaterThanOrEqual(2);
      await expect(rows.filter({ hasText: 'this browser' })).toHaveCount(1);

      await page.getByRole('button', { name: 'Sign out everywhere' }).click();
      await expect(page).toHaveURL(/\/login\?reason=signed_out_everywhere$/);
      await expect(page.getByText('You have signed out on every device.')).toBeVisible();
      await otherPage.reload();
      await expect(otherPage).toHaveURL(/\/login\?reason=revoked$/);
    } finally {
      await elsewhere.close();
    }
  });

  test('an unknown email and a wrong password get the same answer', async ({ page }) => {
    await submitLogin(page, 'nobody-at-all@vigil.test', 'Wrong-password-1');
    const unknown = (await alerts(page).first().innerText()).trim();
    await submitLogin(page, STAFF, 'Wrong-password-1');
    const wrong = (await alerts(page).first().innerText()).trim();
    expect(unknown).toBe('The email or password is incorrect, or the account cannot sign in right now.');
    expect(wrong).toBe(unknown);
  });

  test('disabling a user on the admin page ends their open browser session on its next request', async ({ page, browser }) => {
    await login(page, ENROLLING);
    const chart = await openFirstChart(page);
    const adminContext = await browser.newContext();
    try {
      const admin = await adminContext.newPage();
      await loginAs(admin, 'admin');
      await admin.goto('/admin/users');
      await admin.locator(`tr[data-email="${ENROLLING}"] a`).click();
      const disable = admin.getByTestId('disable-form');
      await disable.getByRole('button', { name: 'Disable account…' }).click();
      await disable.getByLabel('Reason').selectOption('left_organisation');
      await disable.getByRole('button', { name: `Disable ${ENROLLING}` }).click();
      await expect(admin.getByTestId('status-panel').getByRole('status')).toContainText(/\d+ open sessions? ended/);

      // The very next request from their browser is refused and the chart is gone.
      await page.reload();
      await expect(page).toHaveURL(/\/login\?reason=disabled$/);
      await expect(page.getByText('Your session was ended.')).toBeVisible();
      await expect(page.getByText(chart.name)).toHaveCount(0);

      // Enabled again (the admin confirms with their password), so a rerun finds it as it was.
      const enable = admin.getByTestId('enable-form');
      await enable.getByLabel('Your password').fill(DEMO_PASSWORD);
      await enable.getByRole('button', { name: 'Enable account' }).click();
      await expect(admin.getByTestId('status-panel').getByRole('status')).toContainText('Enabled');
    } finally {
      await adminContext.close();
    }
  });
});
