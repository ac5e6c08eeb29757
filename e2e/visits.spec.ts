import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect, test, type Browser, type Page } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS, E2E_DATA_DIR } from '../playwright.config';
import { expectNoStackTrace, loginAs, UUID, type DemoUser } from './helpers';

/**
 * A video visit in two real Chromium contexts with fake camera and microphone: the physician
 * starts it from the chart, the patient joins through the one-time link (a reused or expired
 * link is refused), both peer connections report connected with inbound video bytes rising, a
 * few seconds are recorded and sealed (no WebM in clear anywhere the server writes), played
 * back, refused to billing and to physician2 (who is offered break-glass), and each playback is
 * in "Viewed by" and in the accounting of disclosures.
 */
test.use({
  launchOptions: {
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS, '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required'],
  },
});

/** Keeps every RTCPeerConnection the page makes, so the test can read its getStats(). */
const TRACK_PEERS = () => {
  const Native = window.RTCPeerConnection;
  const peers: RTCPeerConnection[] = [];
  (window as unknown as { vigilPeers: RTCPeerConnection[] }).vigilPeers = peers;
  window.RTCPeerConnection = class extends Native {
    constructor(config?: RTCConfiguration) {
      super(config);
      peers.push(this);
    }
  };
};

async function inboundVideo(page: Page): Promise<{ state: string; bytes: number }> {
  return page.evaluate(async () => {
    const peer = (window as unknown as { vigilPeers: RTCPeerConnection[] }).vigilPeers.at(-1);
    if (!peer) return { state: 'none', bytes: 0 };
    let bytes = 0;
    (await peer.getStats()).forEach((report: { type: string; kind?: string; bytesReceived?: number }) => {
      if (report.type === 'inbound-rtp' && report.kind === 'video') bytes += report.bytesReceived ?? 0;
    });
    return { state: peer.connectionState, bytes };
  });
}

async function expectFlowing(page: Page): Promise<void> {
  let first = 0;
  await expect.poll(async () => {
    const stats = await inboundVideo(page);
    first = stats.bytes;
    return stats.state === 'connected' && stats.bytes > 0;
  }, { timeout: 30_000 }).toBe(true);
  await expect.poll(async () => (await inboundVideo(page)).bytes, { timeout: 15_000 }).toBeGreaterThan(first);
}

async function signedIn(browser: Browser, who: DemoUser): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await loginAs(page, who);
  return page;
}

const shot = (page: Page, name: string) => page.screenshot({ path: test.info().outputPath(`${name}.png`), fullPage: true });

/** WebM's EBML magic followed by its DocType within one header: a recording in clear, not a chance byte run. */
function holdsWebm(bytes: Buffer): boolean {
  for (let at = bytes.indexOf(0x1a); at >= 0; at = bytes.indexOf(0x1a, at + 1)) {
    if (bytes[at + 1] === 0x45 && bytes[at + 2] === 0xdf && bytes[at + 3] === 0xa3 && bytes.subarray(at, at + 64).includes('webm')) return true;
  }
  return false;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

test.describe('video visits', () => {
  test('connect, record with consent, seal, play back and account for every viewing', async ({ browser }) => {
    test.setTimeout(180_000);
    const physician = await signedIn(browser, 'physician');
    await physician.addInitScript(TRACK_PEERS);
    const chartPath = await physician.locator('table a[href^="/patients/"]').nth(5).getAttribute('href');
    expect(chartPath).toMatch(new RegExp(`^/patients/${UUID.source}$`, 'i'));
    const patientId = chartPath!.split('/')[2]!;
    await physician.goto(chartPath!);
    await physician.getByTestId('start-visit').getByRole('button', { name: 'Start video visit' }).click();
    await expect(physician).toHaveURL(new RegExp(`/patients/${patientId}/visits/${UUID.source}$`, 'i'));
    // Hydrated once the camera shows: the screen's buttons answer from then on.
    await expect.poll(() => physician.getByTestId('local-video').evaluate((v: HTMLVideoElement) => v.readyState), { timeout: 20_000 }).toBeGreaterThan(0);
    await physician.getByRole('button', { name: 'Create link' }).click();
    const link = (await physician.getByTestId('join-link').innerText()).trim();
    expect(link).toMatch(/\/visit\/join#[A-Za-z0-9_-]{43}$/);
    expect(link).not.toContain(patientId);
    await shot(physician, 'visit-clinician-waiting');

    const patientContext = await browser.newContext();
    const patient = await patientContext.newPage();
    await patient.addInitScript(TRACK_PEERS);
    await patient.goto(link);
    await expect(patient.getByTestId('consent-question')).toBeVisible();
    expect(patient.url()).not.toContain('#');
    await shot(patient, 'visit-patient-consent');
    await patient.getByRole('button', { name: 'Yes, it may be recorded' }).click();
    await expect(physician.getByTestId('consent-state')).toContainText('agreed');

    await expectFlowing(physician);
    await expectFlowing(patient);
    await expect(physician.getByTestId('connection-state')).toHaveText('Connected');
    await expect(patient.getByTestId('connection-state')).toHaveText('Connected');

    // The link is spent: opening it again, anywhere, is refused.
    const reuse = await (await browser.newContext()).newPage();
    await reuse.goto(link);
    await expect(reuse.getByTestId('join-refused')).toContainText('cannot be used');

    // A few seconds recorded, uploaded chunk by chunk, sealed.
    await physician.getByTestId('record-button').click();
    await expect(patient.getByTestId('patient-recording-state')).toContainText('being recorded');
    await shot(patient, 'visit-patient-call');
    await physician.waitForTimeout(5_000);
    await shot(physician, 'visit-clinician-recording');
    await physician.getByTestId('stop-button').click();
    await expect(physician.getByTestId('recording-state')).toHaveText('Recording saved and sealed.', { timeout: 20_000 });
    const recordingPath = await physician.getByTestId('recording-link').getAttribute('href');
    expect(recordingPath).toMatch(new RegExp(`^/patients/${patientId}/recordings/${UUID.source}$`, 'i'));
    await physician.getByRole('button', { name: 'End visit' }).click();
    await expect(patient.getByTestId('visit-ended')).toBeVisible();

    for (const file of filesUnder(E2E_DATA_DIR)) expect(holdsWebm(readFileSync(file)), file).toBe(false);

    // The physician plays it back: the browser fetches ranges and the video has a length.
    await physician.goto(recordingPath!);
    const video = physician.getByTestId('recording-video');
    await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.readyState), { timeout: 20_000 }).toBeGreaterThanOrEqual(1);
    await video.evaluate((v: HTMLVideoElement) => v.play());
    await physician.waitForTimeout(2_500);
    await video.evaluate((v: HTMLVideoElement) => v.pause());
    await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.currentTime)).toBeGreaterThan(1);
    await physician.reload();
    await expect(physician.getByTestId('viewed-by').locator('tbody tr')).toHaveCount(2);
    await expect(physician.getByTestId('viewed-by')).toContainText('physician');
    await shot(physician, 'recording-playback-viewed-by');
    await expectNoStackTrace(physician);

    const billing = await signedIn(browser, 'billing');
    await billing.goto(recordingPath!);
    await expect(billing.getByTestId('access-denied')).toBeVisible();
    await expect(billing.getByRole('link', { name: 'Emergency access' })).toHaveCount(0);
    const physician2 = await signedIn(browser, 'physician2');
    await physician2.goto(recordingPath!);
    await expect(physician2.getByTestId('access-denied').getByRole('link', { name: 'Emergency access' })).toBeVisible();

    const privacy = await signedIn(browser, 'privacy');
    await privacy.goto(recordingPath!);
    await expect(privacy.getByTestId('viewed-by').locator('tbody tr')).toHaveCount(2);
    await expect(privacy.getByTestId('recording-video')).toHaveCount(0);
    await shot(privacy, 'recording-viewed-by-privacy');
    await privacy.goto(`/admin/audit/disclosures/${patientId}`);
    const watched = privacy.getByTestId('disclosure-report').locator('tr[data-action="visit.recording_play"]');
    await expect(watched.filter({ hasText: 'Watched a video visit recording' })).toHaveCount(2);
    await expect(watched.filter({ hasText: 'Tried to watch a video visit recording' })).toHaveCount(2);
  });

  test('an expired link is refused', async ({ browser, request }) => {
    const physician = await signedIn(browser, 'physician');
    const chartPath = await physician.locator('table a[href^="/patients/"]').nth(6).getAttribute('href');
    await physician.goto(chartPath!);
    await physician.getByTestId('start-visit').getByRole('button', { name: 'Start video visit' }).click();
    await expect.poll(() => physician.getByTestId('local-video').evaluate((v: HTMLVideoElement) => v.readyState), { timeout: 20_000 }).toBeGreaterThan(0);
    await physician.getByRole('button', { name: 'Create link' }).click();
    const link = (await physician.getByTestId('join-link').innerText()).trim();
    try {
      await request.post('/api/test/clock', { data: { advanceMs: 16 * 60_000 } });
      const patient = await (await browser.newContext()).newPage();
      await patient.goto(link);
      await expect(patient.getByTestId('join-refused')).toContainText('cannot be used');
      await shot(patient, 'visit-patient-refused');
    } finally {
      await request.post('/api/test/clock', { data: { reset: true } });
    }
  });
});
