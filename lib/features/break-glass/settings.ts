import 'server-only';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { getDb, type Queryable } from '@/db/client';
import { settings } from '@/db/schema';
import { fail, ok, type Result } from '@/lib/domain/result';
import { passwordStepUp } from '@/lib/features/credentials/reauth';
import { locks } from '@/lib/pipeline/locks';
import { operation, stepUpMessages } from '@/lib/pipeline/operation';
import { auditActions } from '@/lib/domain/audit/actions';
import { adminPermission } from '@/lib/domain/access/permission-names';

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

const windowChange = z.object({ minutes: windowSchema, adminPassword: z.string().max(1024).optional() });

/**
 * Admins tune the window within the bounds. Like every admin change it is serialised with the
 * others, re-reads the admin under the lock and needs a fresh password; the old and new value
 * are audited.
 */
export const setWindowMinutes = operation({
  name: 'admin.setting.break-glass-window',
  action: auditActions.settings.update,
  resourceType: 'setting',
  permission: { category: 'admin', name: adminPermission.breakGlassSettings },
  deniedMessage: 'You do not have permission to change this setting.',
  target: () => WINDOW_SETTING,
  input: windowChange,
  invalid: (error) => fail('invalid', error.issues[0]?.message ?? 'Enter a number of minutes.'),
  stepUp: { by: passwordStepUp, secret: (raw) => (raw as { adminPassword?: string } | null)?.adminPassword },
  lock: () => locks.adminChange,
  recheckActor: true,
  auditedFailures: ['reauth_required'],
  run: async ({ tx, viewer, input, recentlyReauthenticated, at, audit }): Promise<Result<{ minutes: number }, 'reauth_required'>> => {
    if (!recentlyReauthenticated) return fail('reauth_required', stepUpMessages.reauth_required);
    const from = await getWindowMinutes(tx);
    await tx
      .insert(settings)
      .values({ key: WINDOW_SETTING, value: input.minutes, updatedBy: viewer.userId, updatedAt: at })
      .onConflictDoUpdate({ target: settings.key, set: { value: input.minutes, updatedBy: viewer.userId, updatedAt: at } });
    await audit({ resourceId: WINDOW_SETTING, details: { from, to: input.minutes } });
    return ok({ minutes: input.minutes });
  },
});
