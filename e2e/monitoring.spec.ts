import { expect, test, type APIRequestContext } from '@playwright/test';
import { alerts, login, loginAs, pathIs, submitLogin, UUID } from './helpers';

/**
 * Access monitoring, end to end: staff05 (a destructive-test account: a physician
 * with no access history, so judged against the physician default: threshold max(30, 3 × 25)
 * = 75 accesses in an hour) opens charts as fast as a script would. The access that crosses
 * the threshold disables the account in its own transaction; the next request lands on the
 * sign-in page and signing in is refused. The privacy officer finds the case in the queue,
 * sees the hourly chart and evidence, resolves it as appropriate, and staff05 signs in again.
 */
const STAFF = 'staff05@vigil.test';
const CHART_PATH = new RegExp(`^/patients/${UUID.source}$`, 'i');

async function resetClock(request: APIRequestContext): Promise<void> {
  await request.post('/api/test/clock', { data: { reset: true } });
}

test.afterEach(async ({ request }) => {
  await resetClock(request);
});

test('a burst of chart views disables the account at once; the privacy officer reviews, resolves, and the user is back', async ({ browser }) => {
  test.setTimeout(240_000);
  const staffContext = await browser.newContext();
  const staff = await staffContext.newPage();
  await login(staff, STAFF);
  await expect(staff).toHaveURL(pathIs('/patients'));
  const hrefs = await staff.locator('table a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
  const charts = [...new Set(hrefs.filter((h) => CHART_PATH.test(h)))];
  expect(charts.length, 'staff05 is on the care team of the first patients').toBeGreaterThan(0);

  // Open charts with the signed-in session until a request is turned away.
  let served = 0;
  let turnedAway = false;
  for (let i = 0; i < 150 && !turnedAway; i++) {
    const response = await staff.request.get(charts[i % charts.length]!);
    if (new URL(response.url()).pathname === '/login') turnedAway = true;
    else {
      expect(response.status()).toBe(200);
      served += 1;
    }
  }
  expect(turnedAway, 'the account is contained once the volume threshold is crossed').toBe(true);
  // The list view counted as one access; the threshold is 75, so 74–75 chart views were served.
  expect(served).toBeGreaterThanOrEqual(70);
  expect(served).toBeLessThanOrEqual(75);

  // The browser's own next navigation is refused too, and so is a fresh sign-in.
  await staff.goto('/patients');
  await expect(staff).toHaveURL(pathIs('/login'));
  await submitLogin(staff, STAFF, 'Vigil-demo-2026!');
  await expect(alerts(staff).first()).toBeVisible();
  await expect(staff).toHaveURL(pathIs('/login'));

  // The privacy officer's queue: one group for staff05 with the CRITICAL volume case.
  const officerContext = await browser.newContext();
  const officer = await officerContext.newPage();
  await loginAs(officer, 'privacy');
  await officer.goto('/admin/incidents');
  const group = officer.locator(`[data-testid="incident-group"][data-user-email="${STAFF}"]`);
  await expect(group).toBeVisible();
  await expect(group).toContainText('Account disabled by monitoring');
  const volumeCase = group.locator('tr[data-rule="volume"]').first();
  await expect(volumeCase).toContainText('CRITICAL');
  await volumeCase.getByRole('link', { name: 'Review' }).click();
  await expect(officer).toHaveURL(new RegExp(`/admin/incidents/${UUID.source}$`, 'i'));

  // The chart (server-rendered SVG: counts and times only) and the evidence.
  const chart = officer.getByRole('img', { name: /Hourly accesses by Dr\. Staff 05 against their baseline/ });
  await expect(chart).toBeVisible();
  await expect(chart.locator('path[data-series="accesses"]')).toHaveAttribute('d', /\S+/);
  await expect(chart.locator('line[data-series="threshold"]')).toHaveCount(1);
  const evidence = officer.getByTestId('evidence');
  await expect(evidence).toContainText('Accesses this hour');
  await expect(evidence).toContainText('Threshold');
  await expect(officer.getByTestId('account-state')).toHaveText('Disabled by monitoring');

  // A decision needs a comment; then resolve as appropriate.
  await officer.getByLabel(/^Appropriate/).check();
  await officer.getByLabel('Comment (required)').fill('Reviewed with the clinician: covering the whole ward this morning.');
  await officer.getByRole('button', { name: 'Record decision' }).click();
  // The page re-renders with the decision in place of the form.
  await expect(officer.getByTestId('case-status')).toHaveText('Resolved: appropriate');
  await expect(officer.getByText('Reviewed with the clinician: covering the whole ward this morning.')).toBeVisible();
  await expect(officer.getByTestId('account-state')).toHaveText('Enabled');

  // The dashboard counts it among the cases and shows the last day's accesses.
  await officer.goto('/admin');
  await expect(officer.getByTestId('dashboard-incidents')).toBeVisible();
  await expect(officer.getByRole('img', { name: /Record accesses per hour/ })).toBeVisible();

  // staff05 can sign in again and work.
  await login(staff, STAFF);
  await expect(staff).toHaveURL(pathIs('/patients'));
  const again = await staff.request.get(charts[0]!);
  expect(new URL(again.url()).pathname).toBe(charts[0]);

  await staffContext.close();
  await officerContext.close();
});
