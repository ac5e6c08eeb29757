import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { expect, test } from '@playwright/test';
import { loginAs, logout } from './helpers';

/**
 * SMART's own JavaScript client (`fhirclient`) completes a standalone launch against Vigil in
 * Chromium: discovery, authorization code with PKCE through Vigil's sign-in and consent page, the
 * token and its ID token, the signed-in user as the Practitioner it names, then reads of the
 * chosen patient's resources. The app's two pages are served by request
 * interception on the portal's origin (registered in playwright.config.ts's VIGIL_SMART_APPS).
 */
const require = createRequire(import.meta.url);
const fhirClientJs = readFileSync(require.resolve('fhirclient/build/fhir-client.js'), 'utf8');

const launchPage = (iss: string) => `<!doctype html><html><body>launching…
<script src="/e2e-smart-app/fhir-client.js"></script>
<script>FHIR.oauth2.authorize({ clientId: 'e2e-smart-app', scope: 'openid fhirUser launch/patient patient/*.rs', redirectUri: 'callback.html', iss: ${JSON.stringify(iss)}, pkceMode: 'required' });</script>
</body></html>`;

const callbackPage = `<!doctype html><html><body><output id="result">waiting</output>
<script src="/e2e-smart-app/fhir-client.js"></script>
<script>
FHIR.oauth2.ready().then(async (client) => {
  const patient = await client.patient.read();
  const user = await client.user.read();
  const vitals = await client.request('Observation?patient=' + client.patient.id + '&category=vital-signs&_count=5');
  const notes = await client.request('DocumentReference?patient=' + client.patient.id).catch(() => null);
  document.getElementById('result').textContent = JSON.stringify({
    patient: patient.id, family: patient.name[0].family, vitals: vitals.total, vitalsType: vitals.resourceType, notes: notes && notes.total,
    fhirUser: client.getFhirUser(), userType: user.resourceType, userName: user.name[0].text,
  });
}).catch((e) => { document.getElementById('result').textContent = 'error: ' + e.message; });
</script></body></html>`;

test('fhirclient standalone launch: PKCE, consent, token, ID token, the user, and the patient’s resources', async ({ page, baseURL }) => {
  const iss = `${baseURL}/fhir/R4`;
  await page.route('**/e2e-smart-app/**', (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path.endsWith('/fhir-client.js')) return route.fulfill({ contentType: 'text/javascript', body: fhirClientJs });
    if (path.endsWith('/launch.html')) return route.fulfill({ contentType: 'text/html', body: launchPage(iss) });
    if (path.endsWith('/callback.html')) return route.fulfill({ contentType: 'text/html', body: callbackPage });
    return route.fulfill({ status: 404, body: '' });
  });

  const metadata = await page.request.get(`${iss}/metadata`);
  expect(metadata.ok()).toBe(true);
  expect((await metadata.json()).resourceType).toBe('CapabilityStatement');

  await loginAs(page, 'physician');
  await page.goto('/e2e-smart-app/launch.html');
  await expect(page.getByRole('heading', { name: 'Connect an app to Vigil' })).toBeVisible();
  await expect(page.getByText('e2e-smart-app')).toBeVisible();
  const patientId = await page.locator('select[name=patient] option').first().getAttribute('value');
  await page.screenshot({ path: `test-results/fhir-smart-consent.png` });
  await page.getByRole('button', { name: 'Allow' }).click();

  await expect(page.locator('#result')).not.toHaveText('waiting', { timeout: 20_000 });
  const result = JSON.parse((await page.locator('#result').textContent()) ?? '{}');
  expect(result).toMatchObject({ patient: patientId, vitalsType: 'Bundle', fhirUser: expect.stringMatching(/^Practitioner\/[0-9a-f-]{36}$/), userType: 'Practitioner' });
  expect(result.userName).toBeTruthy();
  expect(result.vitals).toBeGreaterThan(0);
  expect(result.notes).toBeGreaterThan(0);

  // The token ends with the sign-in behind it.
  const token = await page.evaluate(() => {
    const key = sessionStorage.getItem('SMART_KEY');
    return key ? JSON.parse(sessionStorage.getItem(JSON.parse(key)) ?? '{}').tokenResponse?.access_token : null;
  });
  expect(token).toBeTruthy();
  const before = await page.request.get(`${iss}/Patient/${patientId}`, { headers: { Authorization: `Bearer ${token}` } });
  expect(before.status()).toBe(200);
  await page.goto('/patients');
  await logout(page);
  const after = await page.request.get(`${iss}/Patient/${patientId}`, { headers: { Authorization: `Bearer ${token}` } });
  expect(after.status()).toBe(401);
  expect((await after.json()).resourceType).toBe('OperationOutcome');
});
