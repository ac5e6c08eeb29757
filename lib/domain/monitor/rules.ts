import 'server-only';
import type { MonitorConfig } from './thresholds';

/**
 * The anomaly rules as pure functions of counts the listener already holds, so each can be
 * tested at and around its threshold without a database. Severity decides the response:
 * CRITICAL disables the account at once (lib/features/monitor/incidents.ts); the others open a case.
 */
export type Severity = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW';
export const severityRank: Record<Severity, number> = { LOW: 1, MEDIUM: 2, HIGH: 3, CRITICAL: 4 };

export const ruleLabels = {
  volume: 'Unusual volume of record access',
  denial_burst: 'Burst of refused requests (possible id probing)',
  breadth: 'Many patients outside the care team',
  off_hours: 'Access at night by a day-time user',
  same_last_name: 'Patient shares the user’s last name',
  repeated_break_glass: 'Repeated emergency access',
  emergency_lookups: 'Many emergency lookups outside the care team',
  tampered_row: 'A stored row was changed outside Vigil (integrity check failed)',
} as const;
export type RuleName = keyof typeof ruleLabels;

export function ruleLabel(rule: string): string {
  return (ruleLabels as Record<string, string>)[rule] ?? rule;
}

export interface Finding {
  rule: RuleName;
  severity: Severity;
  /** Start of the window the case covers: one case per user, rule and window. */
  windowStart: Date;
  /** PHI-free evidence: counts, thresholds, ids. */
  details: Record<string, unknown>;
}

export const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export function hourStart(at: Date): Date {
  return new Date(Math.floor(at.getTime() / HOUR_MS) * HOUR_MS);
}

export function dayStart(at: Date): Date {
  return new Date(Math.floor(at.getTime() / DAY_MS) * DAY_MS);
}

// ---------------------------------------------------------------- volume

export function volumeThreshold(baseline: number, config: Pick<MonitorConfig, 'volumeFloor' | 'volumeMultiplier'>): number {
  return Math.max(config.volumeFloor, config.volumeMultiplier * baseline);
}

export interface VolumeInput {
  at: Date;
  /** Accesses in the current clock hour, including this one. */
  current: number;
  /** Accesses in the previous clock hour. */
  previous: number;
  /** The user's baseline (accesses in a typical busy hour). */
  baseline: number;
  baselineSource: 'user' | 'role';
}

/**
 * Accesses "in the last hour", estimated from two hourly buckets as a sliding window: this
 * hour's count plus the previous hour's weighted by the part of it still inside the window
 * (a burst straddling the top of the hour is not split in two). Fires when the estimate is
 * strictly above max(floor, multiplier × baseline). `carriedOver` says the previous hour's
 * share was needed to cross, which lets a case already judged appropriate stay closed.
 */
export function evaluateVolume(input: VolumeInput, config: MonitorConfig): (Finding & { carriedOver: boolean }) | null {
  const start = hourStart(input.at);
  const elapsed = (input.at.getTime() - start.getTime()) / HOUR_MS;
  const estimate = input.current + input.previous * (1 - elapsed);
  const threshold = volumeThreshold(input.baseline, config);
  if (estimate <= threshold) return null;
  return {
    rule: 'volume',
    severity: 'CRITICAL',
    windowStart: start,
    carriedOver: input.current <= threshold,
    details: {
      accessesThisHour: input.current,
      accessesPreviousHour: input.previous,
      lastHourEstimate: Math.round(estimate * 10) / 10,
      baseline: input.baseline,
      baselineSource: input.baselineSource,
      threshold,
      multiplier: config.volumeMultiplier,
      floor: config.volumeFloor,
    },
  };
}

// ---------------------------------------------------------------- denied-access bursts

/**
 * Refused PHI requests in the last few minutes. Legitimate users see a refusal now and then
 * (an old link, a patient who left their team); ten in ten minutes looks like someone walking
 * through ids (HIGH, a case for review); thirty is automated probing, and the account is
 * contained (CRITICAL).
 */
export function evaluateDenialBurst(denials: number, at: Date, config: MonitorConfig): Finding | null {
  const { high, critical, windowMinutes } = config.denialBurst;
  if (denials < high) return null;
  return {
    rule: 'denial_burst',
    severity: denials >= critical ? 'CRITICAL' : 'HIGH',
    windowStart: hourStart(at),
    details: { denials, windowMinutes, highAt: high, criticalAt: critical },
  };
}

// ---------------------------------------------------------------- breadth outside the care team

/**
 * Distinct patients reached without a treatment relationship (under break-glass, or refused
 * for having none) within the window. Each grant was justified on its own; many at once is a
 * pattern for a privacy officer (HIGH), not proof of misuse.
 */
export function evaluateBreadth(patientIds: readonly string[], at: Date, config: MonitorConfig): Finding | null {
  const { distinctPatients, windowMinutes } = config.breadth;
  if (patientIds.length < distinctPatients) return null;
  return {
    rule: 'breadth',
    severity: 'HIGH',
    windowStart: hourStart(at),
    details: { distinctPatients: patientIds.length, threshold: distinctPatients, windowMinutes, patientIds: [...patientIds] },
  };
}

// ---------------------------------------------------------------- emergency lookups

/**
 * Emergency lookups by one user within the window that showed a patient outside the care team
 * (found by exact identifiers; the listener counts only those); many in an hour looks like looking people up
 * rather than treating them (HIGH, a case for a person to judge: emergencies do come in waves).
 */
export function evaluateEmergencyLookups(input: { lookups: number; patientIds: readonly string[] }, at: Date, config: Pick<MonitorConfig, 'emergencyLookups'>): Finding | null {
  const { high, windowMinutes } = config.emergencyLookups;
  if (input.lookups < high) return null;
  return {
    rule: 'emergency_lookups',
    severity: 'HIGH',
    windowStart: hourStart(at),
    details: { lookups: input.lookups, threshold: high, windowMinutes, patientIds: [...input.patientIds] },
  };
}

// ---------------------------------------------------------------- off-hours

const hourFormats = new Map<string, Intl.DateTimeFormat>();

/** Hour of day (0–23) at `at` in the organisation's time zone. */
export function localHour(at: Date, timeZone: string): number {
  let format = hourFormats.get(timeZone);
  if (!format) hourFormats.set(timeZone, (format = new Intl.DateTimeFormat('en-US', { timeZone, hour: 'numeric', hourCycle: 'h23' })));
  return Number(format.format(at)) % 24;
}

export function isNightHour(hour: number, config: Pick<MonitorConfig, 'offHours'>): boolean {
  const { startHour, endHour } = config.offHours;
  if (startHour === endHour) return false;
  return startHour > endHour ? hour >= startHour || hour < endHour : hour >= startHour && hour < endHour;
}

/** The hour the night containing `at` began: one case per user per night, not per hour. */
export function nightStart(at: Date, config: Pick<MonitorConfig, 'offHours'>): Date {
  const hoursIn = (localHour(at, config.offHours.timeZone) - config.offHours.startHour + 24) % 24;
  return new Date(hourStart(at).getTime() - hoursIn * HOUR_MS);
}

/**
 * A user with enough history, none of it at night, opening records at night (MEDIUM). New
 * users have no pattern to break yet, so they are not flagged.
 */
export function evaluateOffHours(
  input: { at: Date; neverWorksNights: boolean; activeHours: number; patientId: string | null },
  config: MonitorConfig,
): Finding | null {
  if (!input.neverWorksNights) return null;
  const hour = localHour(input.at, config.offHours.timeZone);
  if (!isNightHour(hour, config)) return null;
  return {
    rule: 'off_hours',
    severity: 'MEDIUM',
    windowStart: nightStart(input.at, config),
    details: {
      localHour: hour,
      timeZone: config.offHours.timeZone,
      nightHours: `${config.offHours.startHour}:00–${config.offHours.endHour}:00`,
      activeHoursInLookback: input.activeHours,
      nightHoursInLookback: 0,
      patientIds: input.patientId ? [input.patientId] : [],
    },
  };
}

// ---------------------------------------------------------------- same last name

/** A surname as the patients table indexes it: the whole name, and its first letters. */
export interface SurnameIndex {
  lastName: string;
  prefix: string;
}

/**
 * The user's surname and the patient's, compared as blind indexes (truncated HMACs), so no
 * name is decrypted to check. Both indexes must agree: a real match always does, and unrelated
 * names then collide with probability 2^-(sum of their bits) per patient opened (1 in 4,096 at
 * 8 + 4 bits), on top of genuinely shared common surnames. A match is a candidate, not proof:
 * LOW, one case per user per day listing the patients.
 */
export function evaluateSameLastName(input: {
  at: Date;
  user: SurnameIndex | null;
  patient: SurnameIndex | null;
  patientId: string;
  falseMatchOneIn: number;
}): Finding | null {
  const { user, patient } = input;
  if (!user || !patient || user.lastName !== patient.lastName || user.prefix !== patient.prefix) return null;
  return {
    rule: 'same_last_name',
    severity: 'LOW',
    windowStart: dayStart(input.at),
    details: { patientIds: [input.patientId], comparedBy: 'blind indexes of the last name and its prefix', falseMatchOneIn: input.falseMatchOneIn },
  };
}
