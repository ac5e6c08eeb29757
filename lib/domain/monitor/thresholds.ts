import { z } from 'zod';

/** The monitor's tunable thresholds: pure rules and their bounds (no storage here). */

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
  /**
   * Emergency lookups (exact MRN, or last name and date of birth, outside the care team) within
   * the window: HIGH at `high`. A shift in the emergency department needs a few; dozens an hour
   * is someone looking people up.
   */
  emergencyLookups: z
    .object({
      windowMinutes: z.number().int().min(10).max(24 * 60).default(60),
      high: z.number().int().min(3).max(1_000).default(10),
    })
    .default({ windowMinutes: 60, high: 10 }),
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
