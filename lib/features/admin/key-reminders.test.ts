/**
 * Rotation reminders with the clock moved: 30 and 7 days before the current master key's
 * maximum age, and once it is overdue (a HIGH incident too), each delivered exactly once.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '@/db/client';
import { alertOutbox, incidents, notifications } from '@/db/schema';
import { getKeyProvider } from '@/lib/platform/crypto/key-provider';
import { DAY_MS, viewKeyLifecycle } from '@/lib/features/admin/key-lifecycle';
import { INSTALLATION_SUBJECT, remindKeyRotation } from '@/lib/features/admin/key-reminders';
import { testDatabase, viewer } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';

let handle: TestDatabase;
let db: Db;
let created: number;

beforeAll(async () => {
  handle = await testDatabase({ patients: 3 });
  db = handle.db;
  created = Date.parse(getKeyProvider().describe().at(-1)!.createdAt);
});
afterAll(async () => handle?.close());

const day = (n: number) => new Date(created + n * DAY_MS + 60_000);
const notices = async (kind: string) => (await db.select().from(notifications).where(eq(notifications.kind, kind))).map((n) => n.audienceRole).sort();

describe('master key rotation reminders', () => {
  it('says nothing while the key is young', async () => {
    expect(await remindKeyRotation(db, day(100))).toEqual([]);
  });

  it('reminds admins and privacy officers 30 days before, once', async () => {
    expect(await remindKeyRotation(db, day(336))).toEqual(['due_in_30_days']);
    expect(await remindKeyRotation(db, day(340))).toEqual([]);
    expect(await notices('key.rotation_due_in_30_days')).toEqual(['admin', 'privacy_officer']);
    const outbox = await db.select().from(alertOutbox);
    expect(outbox.filter((o) => (o.payload as { kind: string }).kind === 'key.rotation_due_in_30_days')).toHaveLength(2);
  });

  it('reminds again 7 days before, once', async () => {
    expect(await remindKeyRotation(db, day(359))).toEqual(['due_in_7_days']);
    expect(await remindKeyRotation(db, day(362))).toEqual([]);
    expect(await notices('key.rotation_due_in_7_days')).toEqual(['admin', 'privacy_officer']);
  });

  it('opens one HIGH incident once the key is overdue', async () => {
    expect(await remindKeyRotation(db, day(366))).toEqual(['overdue']);
    expect(await remindKeyRotation(db, day(380))).toEqual([]);
    expect(await notices('key.rotation_overdue')).toEqual(['admin', 'privacy_officer']);
    const cases = await db.select().from(incidents).where(eq(incidents.rule, 'master_key_overdue'));
    expect(cases).toMatchObject([{ severity: 'HIGH', userId: INSTALLATION_SUBJECT, status: 'open' }]);
  });

  it('shows the lifecycle to an admin only, without a key', async () => {
    const admin = await viewer(db, 'admin@vigil.test');
    const physician = await viewer(db, 'physician@vigil.test');
    const seen = await viewKeyLifecycle(admin);
    expect(seen.ok).toBe(true);
    if (!seen.ok) return;
    expect(seen.value.versions).toMatchObject([{ version: 1, current: true, dataKeys: 3 }]);
    expect(seen.value.maxAgeDays).toBe(365);
    const text = JSON.stringify(seen.value);
    for (const secret of [getKeyProvider().systemKey(), getKeyProvider().blindIndexKey()]) {
      expect(text).not.toContain(secret.toString('base64'));
      expect(text).not.toContain(secret.toString('hex'));
    }
    expect((await viewKeyLifecycle(physician)).ok).toBe(false);
  });
});
