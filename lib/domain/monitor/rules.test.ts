import { describe, expect, it } from 'vitest';
import { classifyAccess, isPhiAction } from '@/lib/features/monitor/classify';
import { defaultMonitorConfig, monitorConfigSchema, type MonitorConfig } from '@/lib/features/monitor/config';
import { computeBaseline, surnameOf, type HourCount } from '@/lib/features/monitor/profile';
import {
  evaluateBreadth,
  evaluateDenialBurst,
  evaluateEmergencyLookups,
  evaluateOffHours,
  evaluateSameLastName,
  evaluateVolume,
  HOUR_MS,
  isNightHour,
  nightStart,
  volumeThreshold,
} from '@/lib/domain/monitor/rules';

const config = defaultMonitorConfig;
const hour = new Date('2026-11-24T14:00:00Z');
const at = (minutes: number) => new Date(hour.getTime() + minutes * 60_000);
const withConfig = (patch: Record<string, unknown>): MonitorConfig => monitorConfigSchema.parse({ ...patch });

describe('volume rule', () => {
  const volume = (current: number, baseline: number, extra: { previous?: number; minutes?: number; config?: MonitorConfig } = {}) =>
    evaluateVolume(
      { at: at(extra.minutes ?? 0), current, previous: extra.previous ?? 0, baseline, baselineSource: 'user' },
      extra.config ?? config,
    );

  it('uses the floor when 3x the baseline is below it: 30 is fine, 31 is CRITICAL', () => {
    expect(volumeThreshold(5, config)).toBe(30);
    expect(volume(29, 5)).toBeNull();
    expect(volume(30, 5)).toBeNull();
    const finding = volume(31, 5);
    expect(finding).toMatchObject({ rule: 'volume', severity: 'CRITICAL', windowStart: hour, carriedOver: false });
    expect(finding!.details).toMatchObject({ accessesThisHour: 31, baseline: 5, threshold: 30, floor: 30, multiplier: 3 });
  });

  it('uses 3x the baseline above the floor: 60 is fine, 61 is CRITICAL for a baseline of 20', () => {
    expect(volume(60, 20)).toBeNull();
    expect(volume(61, 20)?.severity).toBe('CRITICAL');
  });

  it('honours a configured multiplier and floor', () => {
    const tuned = withConfig({ volumeMultiplier: 2, volumeFloor: 10 });
    expect(volume(40, 20, { config: tuned })).toBeNull();
    expect(volume(41, 20, { config: tuned })).not.toBeNull();
    expect(volume(11, 1, { config: tuned })).not.toBeNull();
  });

  it('counts the previous hour’s share of a sliding 60-minute window', () => {
    // Half-way through the hour, half of the previous hour's 40 is still inside the window.
    expect(volume(10, 5, { previous: 40, minutes: 30 })).toBeNull(); // 10 + 20 = 30
    const crossing = volume(11, 5, { previous: 40, minutes: 30 }); // 11 + 20 = 31
    expect(crossing).toMatchObject({ carriedOver: true });
    expect(crossing!.details.lastHourEstimate).toBe(31);
    expect(volume(31, 5, { previous: 40, minutes: 30 })).toMatchObject({ carriedOver: false });
    // At the top of the hour the whole previous hour counts; by its end, none of it.
    expect(volume(1, 5, { previous: 30, minutes: 0 })).not.toBeNull();
    expect(volume(1, 5, { previous: 30, minutes: 59.99 })).toBeNull();
  });

  it('a steady rate just under the threshold never fires, whatever the minute', () => {
    for (let minute = 0; minute < 60; minute += 5) {
      const current = Math.floor((29 * minute) / 60);
      expect(volume(current, 5, { previous: 29, minutes: minute })).toBeNull();
    }
  });
});

describe('denied-access burst rule', () => {
  it('is quiet below 10 refusals, HIGH from 10, CRITICAL from 30', () => {
    expect(evaluateDenialBurst(9, hour, config)).toBeNull();
    expect(evaluateDenialBurst(10, hour, config)?.severity).toBe('HIGH');
    expect(evaluateDenialBurst(29, hour, config)?.severity).toBe('HIGH');
    expect(evaluateDenialBurst(30, hour, config)).toMatchObject({ rule: 'denial_burst', severity: 'CRITICAL', windowStart: hour });
  });

  it('refuses settings where CRITICAL would come before HIGH', () => {
    expect(monitorConfigSchema.safeParse({ denialBurst: { windowMinutes: 10, high: 20, critical: 20 } }).success).toBe(false);
  });
});

describe('breadth rule', () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
  it('is HIGH from 5 distinct patients outside the care team', () => {
    expect(evaluateBreadth(ids(4), at(10), config)).toBeNull();
    const finding = evaluateBreadth(ids(5), at(10), config);
    expect(finding).toMatchObject({ rule: 'breadth', severity: 'HIGH', windowStart: hour });
    expect(finding!.details.patientIds).toHaveLength(5);
  });
});

describe('emergency lookup rule', () => {
  it('is HIGH from 10 lookups in the window, with the threshold moving as configured', () => {
    expect(evaluateEmergencyLookups({ lookups: 9, patientIds: [] }, at(30), config)).toBeNull();
    expect(evaluateEmergencyLookups({ lookups: 10, patientIds: ['p'] }, at(30), config)).toMatchObject({
      rule: 'emergency_lookups',
      severity: 'HIGH',
      windowStart: hour,
      details: { lookups: 10, threshold: 10, windowMinutes: 60, patientIds: ['p'] },
    });
    const strict = withConfig({ emergencyLookups: { windowMinutes: 30, high: 3 } });
    expect(evaluateEmergencyLookups({ lookups: 3, patientIds: [] }, at(30), strict)?.severity).toBe('HIGH');
    expect(() => withConfig({ emergencyLookups: { windowMinutes: 60, high: 1 } })).toThrow();
  });
});

describe('off-hours rule', () => {
  const night = (iso: string, neverWorksNights = true, cfg = config) =>
    evaluateOffHours({ at: new Date(iso), neverWorksNights, activeHours: 40, patientId: null }, cfg);

  it('flags 22:00–06:00 for a user who never works nights (MEDIUM), not the minute before or after', () => {
    expect(night('2026-11-24T21:59:59Z')).toBeNull();
    expect(night('2026-11-24T22:00:00Z')).toMatchObject({ rule: 'off_hours', severity: 'MEDIUM' });
    expect(night('2026-11-25T05:59:59Z')?.severity).toBe('MEDIUM');
    expect(night('2026-11-25T06:00:00Z')).toBeNull();
  });

  it('leaves night workers alone', () => {
    expect(night('2026-11-25T02:00:00Z', false)).toBeNull();
  });

  it('groups a night into one case starting at its first night hour', () => {
    expect(nightStart(new Date('2026-11-25T03:20:00Z'), config)).toEqual(new Date('2026-11-24T22:00:00Z'));
    expect(night('2026-11-24T23:10:00Z')!.windowStart).toEqual(new Date('2026-11-24T22:00:00Z'));
  });

  it('reads the hour in the organisation’s time zone', () => {
    const newYork = withConfig({ offHours: { startHour: 22, endHour: 6, timeZone: 'America/New_York' } });
    expect(night('2026-11-25T02:30:00Z', true, newYork)).toBeNull(); // 21:30 in New York
    expect(night('2026-11-25T03:30:00Z', true, newYork)?.details.localHour).toBe(22);
    expect(isNightHour(12, withConfig({ offHours: { startHour: 9, endHour: 9, timeZone: 'UTC' } }))).toBe(false);
  });
});

describe('same-last-name rule', () => {
  const user = { lastName: 'a1', prefix: '7' };
  const check = (patient: { lastName: string; prefix: string } | null, u: typeof user | null = user) =>
    evaluateSameLastName({ at: at(5), user: u, patient, patientId: 'p-1', falseMatchOneIn: 4096 });

  it('is LOW when both the last-name and prefix indexes match, one case per day', () => {
    expect(check({ lastName: 'a1', prefix: '7' })).toMatchObject({
      rule: 'same_last_name',
      severity: 'LOW',
      windowStart: new Date('2026-11-24T00:00:00Z'),
      details: { patientIds: ['p-1'], falseMatchOneIn: 4096 },
    });
  });

  it('needs both indexes to agree', () => {
    expect(check({ lastName: 'a1', prefix: '8' })).toBeNull();
    expect(check({ lastName: 'a2', prefix: '7' })).toBeNull();
    expect(check(null)).toBeNull();
    expect(check({ lastName: 'a1', prefix: '7' }, null)).toBeNull();
  });
});

describe('baseline', () => {
  const history = (counts: number[], startIso = '2026-11-20T09:00:00Z'): HourCount[] =>
    counts.map((accesses, i) => ({ hourStart: new Date(new Date(startIso).getTime() + i * HOUR_MS), accesses, denials: 0, outsideCareTeam: 0 }));

  it('falls back to the role default below minActiveHours', () => {
    const b = computeBaseline(history([10, 12, 0, 9]), ['physician'], config);
    expect(b).toMatchObject({ source: 'role', value: 25, activeHours: 3 });
    expect(computeBaseline([], ['billing', 'physician'], config).value).toBe(60);
    expect(computeBaseline([], ['admin'], config).value).toBe(config.defaultRoleBaseline);
  });

  it('uses the p90 of active hours once there is enough history', () => {
    const b = computeBaseline(history([0, 10, 10, 10, 10, 10, 10, 10, 10, 20, 30]), ['physician'], config);
    expect(b).toMatchObject({ source: 'user', activeHours: 10, p90: 20, value: 20, mean: 13 });
  });

  it('counts active night hours', () => {
    const b = computeBaseline(history([5, 5, 5], '2026-11-20T21:00:00Z'), ['nurse'], config);
    expect(b.nightActiveHours).toBe(2); // 22:00 and 23:00
  });
});

describe('surname of a display name', () => {
  it.each([
    ['Dr. Ada Quinlan', 'Quinlan'],
    ['Nurse Carla Mendes', 'Mendes'],
    ['Dana Whitfield (Billing)', 'Whitfield'],
    ['Whitfield, Dana', 'Whitfield'],
    ['Ben Okafor MD', 'Okafor'],
    ['Dr. Staff 05', 'Staff'],
    ['Dr.', null],
  ])('%s → %s', (name, surname) => {
    expect(surnameOf(name)).toBe(surname);
  });
});

describe('what counts as a PHI access', () => {
  const actor = { userId: '11111111-1111-4111-8111-111111111111' };
  it('counts chart views, lists, searches and section writes; nothing else', () => {
    for (const action of ['chart.view', 'chart.write', 'patient.list', 'patient.search', 'patient.lookup', 'break_glass.identity_view', 'vitals.create', 'problems.update', 'progress_notes.write', 'encounters.billing_status']) {
      expect(isPhiAction(action), action).toBe(true);
    }
    for (const action of ['auth.login', 'incident.open', 'user.disable', 'break_glass.grant', 'settings.update', 'vitals.delete_all', 'patientx.list']) {
      expect(isPhiAction(action), action).toBe(false);
    }
  });

  it('marks break-glass accesses and no-relationship refusals as outside the care team', () => {
    const base = { actor, action: 'chart.view' as const, patientId: '22222222-2222-4222-8222-222222222222' };
    expect(classifyAccess({ ...base, outcome: 'allowed' })).toMatchObject({ kind: 'access', outsideCareTeam: false });
    expect(classifyAccess({ ...base, outcome: 'allowed', breakGlassGrantId: base.patientId })).toMatchObject({ outsideCareTeam: true });
    expect(classifyAccess({ ...base, outcome: 'denied', details: { reason: 'no_relationship' } })).toMatchObject({ kind: 'denial', outsideCareTeam: true });
    expect(classifyAccess({ ...base, patientId: null, outcome: 'denied', details: { reason: 'not_found' } })).toMatchObject({ kind: 'denial', outsideCareTeam: false });
    expect(classifyAccess({ ...base, action: 'break_glass.identity_view', outcome: 'allowed' })).toMatchObject({ kind: 'access', outsideCareTeam: true });
    expect(classifyAccess({ ...base, actor: { userId: null }, outcome: 'allowed' })).toBeNull(); // machine clients (device feeds)
  });
});

describe('settings', () => {
  it('fills defaults and refuses values outside the bounds', () => {
    expect(monitorConfigSchema.parse({ volumeFloor: 50 })).toMatchObject({ volumeFloor: 50, volumeMultiplier: 3 });
    expect(monitorConfigSchema.safeParse({ volumeFloor: 1 }).success).toBe(false);
    expect(monitorConfigSchema.safeParse({ volumeMultiplier: 100 }).success).toBe(false);
    expect(monitorConfigSchema.safeParse({ offHours: { startHour: 22, endHour: 6, timeZone: 'Mars/Olympus' } }).success).toBe(false);
  });
});
