import 'server-only';
import { and, eq, gte, lt } from 'drizzle-orm';
import type { Queryable } from '@/db/client';
import { accessCounters, patients, users } from '@/db/schema';
import { heldRoleNames } from '@/lib/platform/integrity';
import { blindIndex, blindIndexBits, normaliseName } from '@/lib/platform/crypto';
import type { MonitorConfig } from '@/lib/features/monitor/config';
import { HOUR_MS, isNightHour, localHour, nightStart, type SurnameIndex } from '@/lib/domain/monitor/rules';

export interface Baseline {
  /** 'user': from the user's own history; 'role': too little history, the role's default. */
  source: 'user' | 'role';
  /** Hours with at least one access in the lookback (the current hour excluded). */
  activeHours: number;
  mean: number;
  p90: number;
  /** What the volume rule multiplies: the user's p90 (a typical busy hour), or the role default. */
  value: number;
  nightActiveHours: number;
}

export interface HourCount {
  hourStart: Date;
  accesses: number;
  denials: number;
  outsideCareTeam: number;
}

/** Nearest-rank percentile of positive counts. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/**
 * The rolling baseline from hourly counters: mean and p90 over the user's active hours (idle
 * hours say nothing about how busy a working hour is). A user with fewer than minActiveHours
 * gets the highest default among their roles instead, so a first shift is measured against
 * what the job normally looks like rather than against nothing.
 */
export function computeBaseline(history: readonly HourCount[], roles: readonly string[], config: MonitorConfig, at?: Date): Baseline {
  const active = history.filter((h) => h.accesses > 0);
  const counts = active.map((h) => h.accesses).sort((a, b) => a - b);
  const mean = counts.length ? counts.reduce((s, n) => s + n, 0) / counts.length : 0;
  const p90 = percentile(counts, 0.9);
  // Tonight's own hours are what is being judged, not history: leave them out of "works nights".
  const tonight = at && isNightHour(localHour(at, config.offHours.timeZone), config) ? nightStart(at, config).getTime() : Infinity;
  const nightActiveHours = active.filter(
    (h) => h.hourStart.getTime() < tonight && isNightHour(localHour(h.hourStart, config.offHours.timeZone), config),
  ).length;
  const known = roles.map((r) => config.roleBaselines[r]).filter((v): v is number => v !== undefined);
  const roleValue = known.length ? Math.max(...known) : config.defaultRoleBaseline;
  const enough = counts.length >= config.minActiveHours;
  return {
    source: enough ? 'user' : 'role',
    activeHours: counts.length,
    mean: Math.round(mean * 10) / 10,
    p90,
    value: enough ? p90 : roleValue,
    nightActiveHours,
  };
}

/** Honorifics, credentials and role words that are not a surname. */
const notSurnames = new Set(['dr', 'doctor', 'nurse', 'md', 'do', 'rn', 'np', 'pa', 'phd', 'jr', 'sr', 'ii', 'iii', 'iv', 'mr', 'mrs', 'ms', 'mx', 'prof']);

/**
 * The surname in a display name: "Dr. Ada Quinlan" → Quinlan, "Whitfield, Dana" → Whitfield,
 * "Dana Whitfield (Billing)" → Whitfield. Null when nothing name-like is left.
 */
export function surnameOf(displayName: string): string | null {
  const bare = displayName.replace(/\([^)]*\)/g, ' ').trim();
  const words = (bare.includes(',') ? bare.split(',')[0]! : bare).split(/\s+/);
  for (let i = words.length - 1; i >= 0; i--) {
    const word = normaliseName(words[i]!);
    if (/[a-z]{2,}/.test(word) && !notSurnames.has(word)) return words[i]!;
  }
  return null;
}

export function surnameIndex(surname: string): SurnameIndex {
  return { lastName: blindIndex('last_name', surname), prefix: blindIndex('last_name_prefix', surname) };
}

/** How rare an accidental match of both indexes is: 1 in 2^(bits). */
export const falseMatchOneIn = 2 ** (blindIndexBits.last_name + blindIndexBits.last_name_prefix);

export interface UserProfile {
  /** The hour (epoch ms) this profile was computed for: valid until the hour turns. */
  hour: number;
  config: MonitorConfig;
  displayName: string;
  roles: string[];
  baseline: Baseline;
  previous: HourCount;
  surname: SurnameIndex | null;
}

const MAX_PROFILES = 10_000;
const profiles = new Map<string, UserProfile>();

/**
 * A user's baseline, previous-hour counts, roles and surname index, computed once per user
 * per hour (one indexed read of at most lookbackDays × 24 counter rows) and then served from
 * memory. Each app instance keeps its own copy; they agree because they read the same rows.
 */
export async function getUserProfile(q: Queryable, userId: string, hour: Date, config: MonitorConfig): Promise<UserProfile> {
  const cached = profiles.get(userId);
  if (cached && cached.hour === hour.getTime() && cached.config === config) return cached;
  const profile = await loadUserProfile(q, userId, hour, config);
  profiles.delete(userId);
  profiles.set(userId, profile);
  if (profiles.size > MAX_PROFILES) profiles.delete(profiles.keys().next().value!);
  return profile;
}

export async function loadUserProfile(q: Queryable, userId: string, hour: Date, config: MonitorConfig): Promise<UserProfile> {
  const since = new Date(hour.getTime() - config.lookbackDays * 24 * HOUR_MS);
  const history = await loadHourCounts(q, userId, since, hour);
  // A role row written outside Vigil must not move the person into another role's baseline.
  const roles = await heldRoleNames(q, userId);
  const [user] = await q.select({ displayName: users.displayName }).from(users).where(eq(users.id, userId)).limit(1);
  const previousStart = hour.getTime() - HOUR_MS;
  const surname = user ? surnameOf(user.displayName) : null;
  return {
    hour: hour.getTime(),
    config,
    displayName: user?.displayName ?? 'Unknown user',
    roles,
    baseline: computeBaseline(history, roles, config, hour),
    previous: history.find((h) => h.hourStart.getTime() === previousStart) ?? {
      hourStart: new Date(previousStart),
      accesses: 0,
      denials: 0,
      outsideCareTeam: 0,
    },
    surname: surname ? surnameIndex(surname) : null,
  };
}

/** Hourly counters of one user in [from, to), oldest first (primary-key range read). */
export async function loadHourCounts(q: Queryable, userId: string, from: Date, to: Date): Promise<HourCount[]> {
  return q
    .select({
      hourStart: accessCounters.hourStart,
      accesses: accessCounters.accesses,
      denials: accessCounters.denials,
      outsideCareTeam: accessCounters.outsideCareTeam,
    })
    .from(accessCounters)
    .where(and(eq(accessCounters.userId, userId), gte(accessCounters.hourStart, from), lt(accessCounters.hourStart, to)))
    .orderBy(accessCounters.hourStart);
}

const MAX_PATIENTS = 50_000;
const PATIENT_TTL_MS = HOUR_MS;
const patientSurnames = new Map<string, { index: SurnameIndex | null; loadedAt: number }>();

/** A patient's surname blind indexes (not secret on their own: they sit in plain columns). */
export async function getPatientSurnameIndex(q: Queryable, patientId: string): Promise<SurnameIndex | null> {
  const hit = patientSurnames.get(patientId);
  if (hit && Date.now() - hit.loadedAt < PATIENT_TTL_MS) return hit.index;
  const [row] = await q
    .select({ lastName: patients.lastNameIndex, prefix: patients.lastNamePrefixIndex })
    .from(patients)
    .where(eq(patients.id, patientId))
    .limit(1);
  const index = row ? { lastName: row.lastName, prefix: row.prefix } : null;
  patientSurnames.delete(patientId);
  patientSurnames.set(patientId, { index, loadedAt: Date.now() });
  if (patientSurnames.size > MAX_PATIENTS) patientSurnames.delete(patientSurnames.keys().next().value!);
  return index;
}

/** Drop every cached profile and patient index (tests; after a user's roles or name change). */
export function forgetProfiles(): void {
  profiles.clear();
  patientSurnames.clear();
}
