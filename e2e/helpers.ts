import { expect, type Browser, type Locator, type Page } from '@playwright/test';

/** Password of every demo account (printed by `npm run demo`, and in the README). */
export const DEMO_PASSWORD = 'Vigil-demo-2026!';

export const USERS = {
  physician: 'physician@vigil.test',
  physician2: 'physician2@vigil.test', // on no care team
  nurse: 'nurse@vigil.test',
  billing: 'billing@vigil.test',
  admin: 'admin@vigil.test',
  admin2: 'admin2@vigil.test', // the second person of the two-person rule
  privacy: 'privacy@vigil.test',
} as const;
export type DemoUser = keyof typeof USERS;

/** Where each role lands after signing in. */
export const LANDING: Record<DemoUser, string> = {
  physician: '/patients',
  physician2: '/patients',
  nurse: '/patients',
  billing: '/patients',
  admin: '/admin/users',
  admin2: '/admin/users',
  privacy: '/admin/audit',
};

export const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Matches a full URL whose path is exactly `path` (any query string, e.g. a callbackUrl). */
export function pathIs(path: string): RegExp {
  return new RegExp(`^https?://[^/]+${escape(path)}/?(?:[?#].*)?$`);
}

/**
 * The page's role="alert" messages, minus Next's route announcer (a role="alert" div in a
 * shadow root that getByRole would otherwise also match).
 */
export function alerts(page: Page): Locator {
  return page.getByRole('alert').and(page.locator(':not(#__next-route-announcer__)')).filter({ hasText: /\S/ });
}

/** Fill the /login form and submit. Does not assert where it lands: see signIn. */
export async function submitLogin(page: Page, email: string, password: string): Promise<void> {
  await page.goto('/login');
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/**
 * Sign in with a demo account (or any email) and wait to leave /login.
 * Demo accounts have no MFA by default; if the server asks for one, fail with a clear message.
 */
export async function login(page: Page, email: string, password: string = DEMO_PASSWORD): Promise<void> {
  await submitLogin(page, email, password);
  const mfa = page.getByLabel('Authentication code');
  const alert = alerts(page).first();
  await expect(async () => {
    if (await mfa.isVisible()) throw new Error(`login(${email}): MFA was requested; pass a TOTP code`);
    if (pathIs('/login').test(page.url()) && (await alert.isVisible())) {
      throw new Error(`login(${email}) failed: ${await alert.innerText()}`);
    }
    expect(page.url()).not.toMatch(pathIs('/login'));
  }).toPass({ timeout: 20_000 });
}

/** Sign in as a demo role and check it landed on that role's home page. */
export async function loginAs(page: Page, who: DemoUser): Promise<void> {
  await login(page, USERS[who]);
  await expect(page).toHaveURL(pathIs(LANDING[who]));
}

/** Click "Sign out" in the top bar and wait for /login. */
export async function logout(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page).toHaveURL(pathIs('/login'));
}

/** The page must not leak internals: no stack frames, no raw "Error:" text, no Next error page. */
export async function expectNoStackTrace(page: Page): Promise<void> {
  const text = await page.locator('body').innerText();
  expect(text).not.toMatch(/^\s*at \S.*:\d+:\d+\)?\s*$/m); // "    at fn (file.js:1:2)"
  expect(text).not.toMatch(/\(?[\w./-]+\.(?:js|ts|tsx|mjs):\d+:\d+\)?/); // file:line:col
  expect(text).not.toContain('Error:');
  expect(text).not.toMatch(/Application error|Internal Server Error|server-side exception/i);
}

/**
 * The second person of the two-person rule: `who` signs in in a context of its own, approves the
 * waiting request whose line mentions `text` on /admin/requests, and sees it made.
 */
export async function approveRequest(browser: Browser, who: DemoUser, text: string): Promise<void> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await loginAs(page, who);
    await page.goto('/admin/requests');
    const request = page.getByTestId('pending-requests').locator('article').filter({ hasText: text }).first();
    const id = await request.getAttribute('data-request-id');
    await request.getByRole('button', { name: 'Approve…' }).click();
    const form = request.getByTestId('approve-form');
    await form.getByLabel('Your password').fill(DEMO_PASSWORD);
    await form.getByRole('button', { name: 'Approve', exact: true }).click();
    await expect(page.getByTestId('decided-requests').locator(`article[data-request-id="${id}"]`)).toHaveAttribute('data-status', 'approved');
  } finally {
    await context.close();
  }
}
