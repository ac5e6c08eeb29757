/**
 * The monitor-threshold settings page's library: bounds read off monitorConfigSchema and
 * explained field by field, nothing saved when any field is wrong, admins only (refusals
 * audited), a fresh password for every change, before/after in the audit entry.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { settings } from '@/db/schema';
import { DEMO_PASSWORD } from '@/db/seed';
import type { Viewer } from '@/lib/domain/access/viewer';
import { advanceClock, resetClock } from '@/lib/platform/clock';
import { defaultMonitorConfig, forgetMonitorConfig, getMonitorConfig, MONITOR_SETTING } from '@/lib/features/monitor/config';
import { auditHead, auditOfActionSince, testDatabase, viewer as signIn } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { approve, filedRequest } from '@/test/approvals';
import { decideAdminRequest } from '@/lib/features/admin';
import { getMonitorSettings, parseMonitorSettings, updateMonitorSettings, type MonitorNumberField } from '@/lib/features/admin/monitor-settings';

const STALE = 6 * 60_000; // past the 5-minute re-authentication window

let handle: TestDatabase;
let admin: Viewer;
let privacy: Viewer;
let physician: Viewer;

beforeAll(async () => {
  handle = await testDatabase({ patients: 10 });
  privacy = await signIn(handle.db, 'privacy@vigil.test');
  physician = await signIn(handle.db, 'physician@vigil.test');
});

beforeEach(async () => {
  // A fresh sign-in per test: re-authentication is stamped on the session.
  admin = await signIn(handle.db, 'admin@vigil.test');
  await handle.db.delete(settings).where(eq(settings.key, MONITOR_SETTING));
  forgetMonitorConfig();
});

afterEach(() => resetClock());
afterAll(async () => handle?.close());

/** The page's form as the admin would submit it unchanged, plus the optimistic-lock version. */
async function currentForm(): Promise<Record<string, string>> {
  const view = await getMonitorSettings(admin);
  if (!view.ok) throw new Error(view.message);
  const form: Record<string, string> = { version: view.value.version };
  for (const f of view.value.fields) form[f.name] = f.kind === 'number' ? (f.value === null ? '' : String(f.value)) : f.value;
  return form;
}

async function numberFields(): Promise<MonitorNumberField[]> {
  const view = await getMonitorSettings(admin);
  if (!view.ok) throw new Error(view.message);
  return view.value.fields.filter((f): f is MonitorNumberField => f.kind === 'number');
}

const storedRow = async () => (await handle.db.select().from(settings).where(eq(settings.key, MONITOR_SETTING)))[0];

const auditsSince = (seq: number, action: string) => auditOfActionSince(handle.db, seq, action);

/** Dotted paths of every leaf of a config (record entries count as leaves of their record). */
function leafPaths(value: unknown, prefix = ''): string[] {
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
  return [prefix];
}

describe('reading the thresholds', () => {
  it('shows every setting the monitor has, with the bounds of its schema, to admins (editable) and privacy officers (read-only)', async () => {
    const asAdmin = await getMonitorSettings(admin);
    const asPrivacy = await getMonitorSettings(privacy);
    expect(asAdmin).toMatchObject({ ok: true, value: { canEdit: true, source: 'default', version: '' } });
    expect(asPrivacy).toMatchObject({ ok: true, value: { canEdit: false } });
    if (!asAdmin.ok) return;
    const names = asAdmin.value.fields.map((f) => f.name);
    for (const path of leafPaths(defaultMonitorConfig)) expect(names, path).toContain(path);
    expect(names).toEqual(expect.arrayContaining(['roleBaselines.admin', 'roleBaselines.privacy_officer']));
    const floor = asAdmin.value.fields.find((f) => f.name === 'volumeFloor');
    expect(floor).toMatchObject({ kind: 'number', min: 5, max: 100_000, integer: true, value: 30 });
    expect(asAdmin.value.fields.find((f) => f.name === 'volumeMultiplier')).toMatchObject({ min: 1.5, max: 20, integer: false, value: 3 });
  });

  it('refuses anyone else, and audits the refusal', async () => {
    const since = await auditHead(handle.db);
    expect(await getMonitorSettings(physician)).toMatchObject({ ok: false, error: 'denied' });
    const [entry] = await auditsSince(since, 'settings.view');
    expect(entry).toMatchObject({ userId: physician.userId, outcome: 'denied', resourceId: MONITOR_SETTING });
  });

  it('says when a saved row is outside the bounds and therefore ignored', async () => {
    await handle.db.insert(settings).values({ key: MONITOR_SETTING, value: { volumeFloor: 1 } });
    const view = await getMonitorSettings(admin);
    expect(view).toMatchObject({ ok: true, value: { source: 'invalid' } });
    if (view.ok) expect(view.value.fields.find((f) => f.name === 'volumeFloor')?.value).toBe(defaultMonitorConfig.volumeFloor);
  });
});

describe('bounds', () => {
  it('names the field and its range for every number below, above or not a number, and accepts both ends', async () => {
    const base = await currentForm();
    const roles = Object.keys(base).filter((k) => k.startsWith('roleBaselines.')).map((k) => k.slice('roleBaselines.'.length));
    for (const field of await numberFields()) {
      const range = `from ${field.min.toLocaleString('en-US')} to ${field.max.toLocaleString('en-US')}`;
      for (const bad of [String(field.min - 1), String(field.max + 1), 'lots', ...(field.integer ? [String(field.min + 0.5)] : [])]) {
        const result = parseMonitorSettings({ ...base, [field.name]: bad }, roles);
        expect(result.ok, `${field.name}=${bad}`).toBe(false);
        if (result.ok) continue;
        expect(result.fieldErrors[field.name]).toBe(`${field.label} must be ${field.integer ? 'a whole number' : 'a number'} ${range}.`);
      }
      for (const edge of [field.min, field.max]) {
        // CRITICAL must stay above HIGH: move the other level out of the way.
        const companion = { 'denialBurst.critical': { 'denialBurst.high': '3' }, 'denialBurst.high': { 'denialBurst.critical': '5000' } }[field.name];
        const result = parseMonitorSettings({ ...base, ...companion, [field.name]: String(edge) }, roles);
        expect(result.ok ? undefined : result.fieldErrors[field.name], `${field.name}=${edge}`).toBeUndefined();
      }
    }
  });

  it('keeps the cross-field and format rules: CRITICAL above HIGH, a real time zone, on/off', async () => {
    const base = await currentForm();
    const roles = ['physician'];
    expect(parseMonitorSettings({ ...base, 'denialBurst.high': '40', 'denialBurst.critical': '40' }, roles)).toEqual({
      ok: false,
      fieldErrors: { 'denialBurst.critical': 'Refusals for CRITICAL must be above Refusals for HIGH.' },
    });
    expect(parseMonitorSettings({ ...base, 'offHours.timeZone': 'Mars/Olympus' }, roles)).toMatchObject({
      ok: false,
      fieldErrors: { 'offHours.timeZone': expect.stringMatching(/^Time zone must be an IANA name/) },
    });
    expect(parseMonitorSettings({ ...base, sameLastName: 'maybe' }, roles)).toMatchObject({ ok: false, fieldErrors: { sameLastName: expect.any(String) } });
    const ok = parseMonitorSettings({ ...base, 'roleBaselines.physician': '', 'offHours.timeZone': 'Europe/London', sameLastName: 'off' }, roles);
    expect(ok).toMatchObject({ ok: true, config: { sameLastName: false, offHours: { timeZone: 'Europe/London' } } });
    if (ok.ok) expect(ok.config.roleBaselines).not.toHaveProperty('physician');
  });
});

describe('saving', () => {
  it('refuses the whole form when one field is out of bounds: a plain message naming it, nothing saved, nothing audited as done', async () => {
    const since = await auditHead(handle.db);
    const form = { ...(await currentForm()), volumeFloor: '45', volumeMultiplier: '50', adminPassword: DEMO_PASSWORD };
    const result = await updateMonitorSettings(admin, form);
    expect(result).toMatchObject({
      ok: false,
      error: 'invalid',
      message: 'Nothing was saved. Volume multiplier must be a number from 1.5 to 20.',
      fieldErrors: { volumeMultiplier: 'Volume multiplier must be a number from 1.5 to 20.' },
    });
    expect(await storedRow()).toBeUndefined();
    expect((await auditsSince(since, 'settings.update')).filter((e) => e.outcome === 'allowed')).toEqual([]);
  });

  it('saves a valid change, audits before and after in the same transaction, and the monitor uses it at once', async () => {
    await getMonitorConfig(handle.db); // warm the monitor's cache with the defaults
    const since = await auditHead(handle.db);
    const form = { ...(await currentForm()), volumeFloor: '45', 'roleBaselines.nurse': '35', 'roleBaselines.admin': '4' };
    const result = await updateMonitorSettings(admin, form);
    // Away from the defaults: a privacy officer must approve it; nothing is saved until then.
    expect(result).toMatchObject({ ok: true, message: expect.stringMatching(/^Sent for approval: a privacy officer/) });
    expect(await storedRow()).toBeUndefined();
    expect(await decideAdminRequest(await signIn(handle.db, 'admin2@vigil.test'), { requestId: filedRequest(result), decision: 'approve', adminPassword: DEMO_PASSWORD })).toMatchObject({ ok: false, error: 'denied' });
    await approve(privacy, result);
    const row = await storedRow();
    expect(row).toMatchObject({ updatedBy: admin.userId, value: { volumeFloor: 45, roleBaselines: { physician: 25, nurse: 35, billing: 60, admin: 4 } } });
    const [entry] = await auditsSince(since, 'settings.update');
    expect(entry).toMatchObject({ userId: privacy.userId, outcome: 'allowed', resourceType: 'setting', resourceId: MONITOR_SETTING });
    expect(entry!.details).toMatchObject({
      changed: ['roleBaselines.admin', 'roleBaselines.nurse', 'volumeFloor'],
      after: { volumeFloor: 45, roleBaselines: { nurse: 35, admin: 4 } },
      requestedBy: admin.userId,
    });
    expect((await getMonitorConfig(handle.db)).volumeFloor).toBe(45);

    const again = await updateMonitorSettings(admin, await currentForm());
    expect(again).toMatchObject({ ok: true, message: 'No change: the settings were already as entered.' });
    expect(await auditsSince(entry!.seq, 'settings.update')).toEqual([]);
  });

  it('is refused to privacy officers and clinicians, audited, and changes nothing', async () => {
    const since = await auditHead(handle.db);
    const form = { ...(await currentForm()), volumeFloor: '100000', adminPassword: DEMO_PASSWORD };
    for (const viewer of [privacy, physician]) {
      expect(await updateMonitorSettings(viewer, form)).toMatchObject({ ok: false, error: 'denied' });
    }
    expect(await storedRow()).toBeUndefined();
    const denials = await auditsSince(since, 'settings.update');
    expect(denials.map((e) => [e.userId, e.outcome, (e.details as { reason?: string }).reason])).toEqual([
      [physician.userId, 'denied', 'denied'],
      [privacy.userId, 'denied', 'denied'],
    ]);
  });

  it('needs the password again after the re-authentication window; a wrong one is refused and audited', async () => {
    advanceClock(STALE);
    const form = { ...(await currentForm()), volumeFloor: '50' };
    const since = await auditHead(handle.db);
    expect(await updateMonitorSettings(admin, form)).toMatchObject({ ok: false, error: 'reauth_required' });
    expect(await updateMonitorSettings(admin, { ...form, adminPassword: 'not my password' })).toMatchObject({ ok: false, error: 'reauth_failed' });
    expect(await storedRow()).toBeUndefined();
    const reasons = (await auditsSince(since, 'settings.update')).map((e) => (e.details as { reason?: string }).reason);
    expect(reasons).toEqual(['reauth_failed', 'reauth_required']);
    await approve(privacy, await updateMonitorSettings(admin, { ...form, adminPassword: DEMO_PASSWORD }));
    expect((await storedRow())?.value).toMatchObject({ volumeFloor: 50 });
  });

  it('refuses a form based on settings someone else has changed since', async () => {
    const stale = await currentForm();
    await approve(privacy, await updateMonitorSettings(admin, { ...stale, volumeFloor: '40' }));
    expect(await updateMonitorSettings(admin, { ...stale, lookbackDays: '21' })).toMatchObject({ ok: false, error: 'conflict' });
    expect((await storedRow())?.value).toMatchObject({ volumeFloor: 40, lookbackDays: 14 });
  });

  it('moving settings back to their defaults applies at once, without a second person', async () => {
    await handle.db.insert(settings).values({ key: MONITOR_SETTING, value: { ...defaultMonitorConfig, volumeFloor: 40 } });
    const result = await updateMonitorSettings(admin, { ...(await currentForm()), volumeFloor: '30', adminPassword: DEMO_PASSWORD });
    expect(result).toMatchObject({ ok: true, value: { requestId: null }, message: expect.stringMatching(/^Saved/) });
    expect((await storedRow())?.value).toMatchObject({ volumeFloor: 30 });
  });

  it('replaces an ignored (out-of-bounds) saved row even when the form shows the defaults unchanged', async () => {
    await handle.db.insert(settings).values({ key: MONITOR_SETTING, value: { volumeFloor: 1 } });
    const result = await updateMonitorSettings(admin, await currentForm());
    expect(result).toMatchObject({ ok: true, message: expect.stringMatching(/^Saved: the ignored settings were replaced\./) });
    expect((await storedRow())?.value).toEqual(defaultMonitorConfig);
  });
});
