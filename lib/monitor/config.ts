import 'server-only';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable } from '@/db/client';
import { settings } from '@/db/schema';
import { now as clockNow } from '@/lib/clock';

/** The `settings` row that tunes the monitor; absent or invalid → the defaults below. */
export const MONITOR_SETTING = 'monitor.rules';

const hour = z.number().int().min(0).max(23);

/**
 * Every knob has code-enforced bounds: a value edited by hand in the database that falls
 * outside them is ignored (the whole row falls back to the defaults), never trusted.
 */
export const monitorConfigSchema = z.object({
  /** Volume: CRITICAL when this hour's accesses exceed multiplier × baseline… */
  volumeMultiplier: z.number().min(1.5).max(20).default(3),
  /** …and never below this many accesses in an hour, whatever the baseline. */
  volumeFloor: z.number().int().min(5).max(100_000).default(30),
  /** Hours of history looked at for the baseline. */
  lookbackDays: z.number().int().min(1).max(60).default(14),
  /** Fewer active hours than this in the lookback → the user is "new": use their role's baseline. */
  minActiveHours: z.number().int().min(1).max(500).default(8),
  /**
   * Typical accesses in a busy hour (p90) for a new user, by role; the highest of a user's roles
   * wins. List and search pages and the re-render after each write count too, so these sit well
   * above the number of patients a clinician sees in an hour.
   */
  roleBaselines: z.record(z.string(), z.number().min(1).max(10_000)).default({ physician: 25, nurse: 30, billing: 60 }),
  defaultRoleBaseline: z.number().min(1).max(10_000).default(10),
  /** Denied PHI requests within `windowMinutes`: HIGH at `high`, CRITICAL (probing) at `critical`. */
  denialBurst: z
    .object({
      windowMinutes: z.number().int().min(1).max(60).default(10),
      high: z.number().int().min(3).max(1_000).default(10),
      critical: z.number().int().min(5).max(5_000).default(30),
    })
    .refine((d) => d.critical > d.high, 'The critical level must be above the high level.')
    .default({ windowMinutes: 10, high: 10, critical: 30 }),
  /** Distinct patients reached outside the care team (break-glass or refused) within the window: HIGH. */
  breadth: z
    .object({
      windowMinutes: z.number().int().min(10).max(24 * 60).default(60),
      distinctPatients: z.number().int().min(2).max(1_000).default(5),
    })
    .default({ windowMinutes: 60, distinctPatients: 5 }),
  /** Night hours in the organisation's time zone; MEDIUM for users with no night history. */
  offHours: z
    .object({
      startHour: hour.default(22),
      endHour: hour.default(6),
      timeZone: z
        .string()
        .refine((tz) => {
          try {
            new Intl.DateTimeFormat('en-US', { timeZone: tz });
            return true;
          } catch {
            return false;
          }
        }, 'Unknown time zone.')
        .default('UTC'),
    })
    .default({ startHour: 22, endHour: 6, timeZone: 'UTC' }),
  /** Same surname as the patient (blind-index match): LOW. */
  sameLastName: z.boolean().default(true),
});

export type MonitorConfig = z.infer<typeof monitorConfigSchema>;
export const defaultMonitorConfig: MonitorConfig = monitorConfigSchema.parse({});

/**
 * Read on every audited access, so cached briefly per process: a changed setting applies
 * everywhere within CACHE_MS without a query per access.
 */
const CACHE_MS = 30_000;
let cached: { config: MonitorConfig; loadedAt: number } | undefined;

export async function getMonitorConfig(q: Queryable): Promise<MonitorConfig> {
  if (cached && Date.now() - cached.loadedAt < CACHE_MS) return cached.config;
  const [row] = await q.select({ value: settings.value }).from(settings).where(eq(settings.key, MONITOR_SETTING)).limit(1);
  const parsed = row ? monitorConfigSchema.safeParse(row.value) : null;
  const loaded = parsed?.success ? parsed.data : defaultMonitorConfig;
  // Same settings → same object, so per-user profiles keyed on it stay valid across reloads.
  const config = cached && JSON.stringify(cached.config) === JSON.stringify(loaded) ? cached.config : loaded;
  cached = { config, loadedAt: Date.now() };
  return config;
}

/** Stores (validated) monitor settings; callers audit the change. */
export async function saveMonitorConfig(q: Queryable, value: unknown, updatedBy: string | null): Promise<MonitorConfig> {
  const config = monitorConfigSchema.parse(value);
  await q
    .insert(settings)
    .values({ key: MONITOR_SETTING, value: config, updatedBy })
    .onConflictDoUpdate({ target: settings.key, set: { value: config, updatedBy, updatedAt: clockNow() } });
  cached = undefined;
  return config;
}

/** Forget the cached settings (tests, and after an update in this process). */
export function forgetMonitorConfig(): void {
  cached = undefined;
}
