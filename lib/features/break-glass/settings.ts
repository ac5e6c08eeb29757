import 'server-only';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { getDb, type Queryable } from '@/db/client';
import { settings } from '@/db/schema';
import { hasAdminPermission } from '@/lib/domain/access/policy';
import type { Viewer } from '@/lib/domain/access/viewer';
import { recordAudit } from '@/lib/platform/audit';
import { now as clockNow } from '@/lib/platform/clock';

export const WINDOW_SETTING = 'break_glass.window_minutes';
export const windowBounds = { min: 15, max: 240, default: 60 } as const;

const windowSchema = z.coerce
  .number({ error: 'Enter a number of minutes.' })
  .int('Enter a whole number of minutes.')
  .min(windowBounds.min, `The window must be at least ${windowBounds.min} minutes.`)
  .max(windowBounds.max, `The window must be at most ${windowBounds.max} minutes.`);

/**
 * How long a new grant lasts. A stored value outside the bounds (edited by hand in the
 * database) is ignored rather than trusted: the code's bounds are the policy.
 */
export async function getWindowMinutes(q: Queryable): Promise<number> {
  const [row] = await q.select({ value: settings.value }).from(settings).where(eq(settings.key, WINDOW_SETTING)).limit(1);
  const parsed = windowSchema.safeParse(row?.value);
  return parsed.success ? parsed.data : windowBounds.default;
}

/** The current window, for pages. */
export async function getBreakGlassWindow(): Promise<number> {
  return getWindowMinutes(await getDb());
}

export type SettingResult = { ok: true; minutes: number } | { ok: false; error: 'denied' | 'invalid'; message: string };

/** Admins tune the window within the bounds; the change (old and new value) is audited. */
export async function setWindowMinutes(viewer: Viewer, input: unknown, at = clockNow()): Promise<SettingResult> {
  const db = await getDb();
  if (!hasAdminPermission(viewer, 'settings.break_glass')) {
    await db.transaction((tx) =>
      recordAudit(tx, {
        actor: viewer,
        action: 'settings.update',
        resourceType: 'setting',
        resourceId: WINDOW_SETTING,
        outcome: 'denied',
        details: { reason: 'no_permission' },
      }),
    );
    return { ok: false, error: 'denied', message: 'You do not have permission to change this setting.' };
  }
  const parsed = windowSchema.safeParse(input);
  if (!parsed.success) return { ok: false, error: 'invalid', message: parsed.error.issues[0]?.message ?? 'Enter a number of minutes.' };
  const minutes = parsed.data;
  await db.transaction(async (tx) => {
    const from = await getWindowMinutes(tx);
    await tx
      .insert(settings)
      .values({ key: WINDOW_SETTING, value: minutes, updatedBy: viewer.userId, updatedAt: at })
      .onConflictDoUpdate({ target: settings.key, set: { value: minutes, updatedBy: viewer.userId, updatedAt: at } });
    await recordAudit(tx, {
      actor: viewer,
      action: 'settings.update',
      resourceType: 'setting',
      resourceId: WINDOW_SETTING,
      outcome: 'allowed',
      details: { from, to: minutes },
    });
  });
  return { ok: true, minutes };
}
