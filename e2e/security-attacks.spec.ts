import { readFileSync, existsSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { E2E_DATA_DIR } from '../playwright.config';
import { loginAs, UUID, type DemoUser } from './helpers';

/**
 * Attacks in the browser, against the production build (the server-side suites are in
 * lib/features/records/security-fuzz.test.ts):
 * XSS payloads saved as notes render inert; a PHI marker written by a physician never reaches
 * roles that may not read it (every page and RSC payload they can open); a server action POST
 * from a foreign Origin is refused; the server log holds no PHI seen during the run.
 * Runs serially on the shared server; it only adds notes to a physician's own patient.
 */
test.describe.configure({ mode: 'serial' });

const MARKER = `PHIMARK${Date.now().toString(36).toUpperCase()}Q`;
const XSS = [
  '<img src=x onerror=alert(1)>',
  '<script>alert(2)</script>',
  '"><svg onload=alert(3)>',
  "javascript:alert(4)//' onmouseover='alert(5)",
  '<iframe srcdoc="<script>alert(6)</script>"></iframe>',
];
let chartPath = '';
const seenPhi = new Set<string>();

async function addNote(page: Page, text: string) {
  const notes = page.locator('section[data-section="progress_notes"]');
  await notes.locator('textarea[name="text"]').fill(text);
  // Wait for this action's own response: the "Saved." status of the previous note lingers.
  await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && !!r.request().headers()['next-action']),
    notes.getByRole('button', { name: 'Add note' }).click(),
  ]);
  await expect(notes.getByRole('status')).toHaveText('Saved.');
  await expect(notes.locator('textarea[name="text"]')).toHaveValue('');
}

test('physician saves XSS payloads as notes: they render as text and never run', async ({ page }) => {
  const dialogs: string[] = [];
  page.on('dialog', async (dialog) => {
    dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  await loginAs(page, 'physician');
  // PHI the physician legitimately sees, for the log scan at the end.
  const rows = await page.locator('table tbody tr').evaluateAll((trs) => trs.slice(0, 15).map((tr) => tr.textContent ?? ''));
  for (const row of rows) for (const token of row.match(/\b\d{8}\b|\d{4}-\d{2}-\d{2}|[A-Z][a-z'ñøéá]+(?=,)/g) ?? []) seenPhi.add(token);
  chartPath = (await page.locator('table a[href^="/patients/"]').first().getAttribute('href'))!;
  expect(chartPath).toMatch(UUID);
  await page.goto(chartPath);
  for (const payload of XSS) await addNote(page, `${payload} ${MARKER}`);
  await addNote(page, `Leak scan marker ${MARKER}`);
  await page.reload();
  const notes = page.locator('section[data-section="progress_notes"]');
  for (const payload of XSS) await expect(notes.getByText(payload, { exact: false }).first()).toBeVisible();
  expect(await page.locator('img[src="x"], svg[onload], iframe, section script').count()).toBe(0);
  await page.waitForTimeout(500);
  expect(dialogs).toEqual([]);
});

for (const who of ['physician2', 'billing', 'admin', 'privacy', 'nurse'] as const satisfies readonly DemoUser[]) {
  test(`${who} never receives the physician's note marker, on any page or payload`, async ({ page }) => {
    const bodies: Array<{ url: string; body: string }> = [];
    page.on('response', async (response) => {
      try {
        bodies.push({ url: response.url(), body: await response.text() });
      } catch {
        // redirects and aborted requests have no body
      }
    });
    await loginAs(page, who);
    for (const path of [chartPath, `${chartPath}/break-glass`, '/patients', '/patients?q=a', '/admin/audit', '/admin/break-glass', '/admin/users', '/admin/incidents']) {
      await page.goto(path).catch(() => undefined);
      for (const rsc of [false, true]) {
        const response = await page.request.get(path, { headers: rsc ? { RSC: '1' } : {} });
        bodies.push({ url: `${rsc ? 'RSC ' : ''}${path}`, body: await response.text() });
      }
    }
    const leaks = bodies.filter((b) => b.body.includes(MARKER)).map((b) => b.url);
    expect(leaks, `marker reached ${who}`).toEqual([]);
    expect(bodies.length).toBeGreaterThan(16);
  });
}

test('a server action replayed with a foreign Origin is refused; the same request from our origin works', async ({ page, baseURL }) => {
  await loginAs(page, 'physician');
  await page.goto(chartPath);
  const notes = page.locator('section[data-section="progress_notes"]');
  await notes.locator('textarea[name="text"]').fill(`Origin probe ${MARKER} A`);
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.method() === 'POST' && !!r.headers()['next-action']),
    notes.getByRole('button', { name: 'Add note' }).click(),
  ]);
  await expect(notes.getByRole('status')).toHaveText('Saved.');
  const headers = request.headers();
  const replay = (origin: string, text: string) =>
    page.request.post(chartPath, {
      headers: {
        'next-action': headers['next-action']!,
        'content-type': headers['content-type']!,
        accept: 'text/x-component',
        origin,
        ...(headers['next-router-state-tree'] ? { 'next-router-state-tree': headers['next-router-state-tree'] } : {}),
      },
      data: request.postDataBuffer()!.toString('latin1').replace(`Origin probe ${MARKER} A`, text),
      maxRedirects: 0,
    });
  const foreign = await replay('https://evil.example', `Origin probe ${MARKER} FOREIGN`);
  expect(foreign.status(), 'foreign-origin server action').toBeGreaterThanOrEqual(400);
  const same = await replay(new URL(baseURL!).origin, `Origin probe ${MARKER} SAME`);
  expect(same.status()).toBe(200);
  await page.reload();
  await expect(notes.getByText(`Origin probe ${MARKER} SAME`)).toBeVisible();
  await expect(notes.getByText(`Origin probe ${MARKER} FOREIGN`)).toHaveCount(0);
});

test('the server log holds none of the PHI seen in this run', async () => {
  const file = process.env.VIGIL_LOG_FILE ?? `${E2E_DATA_DIR}/server.log`;
  expect(existsSync(file), `no server log at ${file} (set VIGIL_LOG_FILE for the e2e server)`).toBe(true);
  const log = readFileSync(file, 'utf8');
  expect(log, 'the server logs through lib/platform/log').toContain('"app":"vigil"');
  expect(seenPhi.size).toBeGreaterThan(5);
  const found = [...seenPhi, MARKER].filter((value) => log.includes(value));
  expect(found, 'PHI in the server log').toEqual([]);
});
