import 'server-only';
import { asc, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable } from '@/db/client';
import { roles, settings, users } from '@/db/schema';
import { adminPermission, auditPermission } from '@/lib/domain/access/permission-names';
import { hasAdminPermission, hasAuditPermission } from '@/lib/domain/access/policy';
import { auditActions } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { operation, stepUpMessages } from '@/lib/pipeline/operation';
import { defaultMonitorConfig, forgetMonitorConfig, MONITOR_SETTING, monitorConfigSchema, saveMonitorConfig, type MonitorConfig } from '@/lib/features/monitor/config';
import { adminMessages, adminOnly, adminStepUp, serialisedAdminChange } from '@/lib/features/admin/messages';
import { fileRequest, filedMessage } from '@/lib/features/admin/requests';

/**
 * The access monitor's thresholds (settings row `monitor.rules`), for the admin page.
 *
 * Who: administrators change them (`admin: settings.monitor`, as they set the break-glass
 * window); privacy officers, who work the incidents these rules open, may read them
 * (`audit: incidents.view`). Anyone else is refused and the attempt audited.
 *
 * A change loosens or tightens the watch on every clinician, so it always needs a fresh
 * re-authentication, is checked against the bounds in lib/features/monitor/config.ts (the only source
 * of them: this module reads them off the schema), and is audited with the whole before and
 * after in the transaction that saves it. Any invalid field refuses the whole form.
 */

export type MonitorSettingGroup = 'volume' | 'denials' | 'breadth' | 'lookups' | 'night' | 'surname';
export const monitorSettingGroups: Record<MonitorSettingGroup, { title: string; description: string }> = {
  volume: {
    title: 'Volume (CRITICAL: disables the account)',
    description: 'Record accesses in the last hour above the multiplier times the person’s usual busy hour, and above the floor.',
  },
  denials: { title: 'Refused requests', description: 'Refused record requests within the window: HIGH, then CRITICAL (probing).' },
  breadth: { title: 'Breadth outside the care team (HIGH)', description: 'Distinct patients reached by emergency access or refused, within the window.' },
  lookups: { title: 'Emergency lookups (HIGH)', description: 'Lookups of patients outside the care team by exact MRN, or last name and date of birth, within the window.' },
  night: { title: 'Night-time access (MEDIUM)', description: 'Access between these hours by someone with no night-time history.' },
  surname: { title: 'Shared surname (LOW)', description: 'Access to a patient with the same surname as the user.' },
};

interface NumberSpec {
  path: string[];
  label: string;
  hint: string;
  group: MonitorSettingGroup;
}

const numberSpecs: NumberSpec[] = [
  { path: ['volumeMultiplier'], label: 'Volume multiplier', hint: 'Times the person’s busy-hour baseline.', group: 'volume' },
  { path: ['volumeFloor'], label: 'Volume floor', hint: 'Accesses in an hour below which volume never alerts.', group: 'volume' },
  { path: ['lookbackDays'], label: 'Baseline lookback (days)', hint: 'History used for a person’s baseline.', group: 'volume' },
  { path: ['minActiveHours'], label: 'Active hours for a personal baseline', hint: 'With fewer, the role’s baseline applies.', group: 'volume' },
  { path: ['defaultRoleBaseline'], label: 'Baseline for other roles', hint: 'Busy-hour accesses for a new user whose roles have none below.', group: 'volume' },
  { path: ['denialBurst', 'windowMinutes'], label: 'Refusal window (minutes)', hint: '', group: 'denials' },
  { path: ['denialBurst', 'high'], label: 'Refusals for HIGH', hint: '', group: 'denials' },
  { path: ['denialBurst', 'critical'], label: 'Refusals for CRITICAL', hint: 'Must be above the HIGH level.', group: 'denials' },
  { path: ['breadth', 'windowMinutes'], label: 'Breadth window (minutes)', hint: '', group: 'breadth' },
  { path: ['breadth', 'distinctPatients'], label: 'Patients outside the care team', hint: '', group: 'breadth' },
  { path: ['emergencyLookups', 'windowMinutes'], label: 'Emergency lookup window (minutes)', hint: '', group: 'lookups' },
  { path: ['emergencyLookups', 'high'], label: 'Emergency lookups for HIGH', hint: '', group: 'lookups' },
  { path: ['offHours', 'startHour'], label: 'Night starts (hour)', hint: '0–23, in the time zone below.', group: 'night' },
  { path: ['offHours', 'endHour'], label: 'Night ends (hour)', hint: '0–23, in the time zone below.', group: 'night' },
];
const ROLE_BASELINE = 'roleBaselines';
const TIME_ZONE = 'offHours.timeZone';
const SAME_LAST_NAME = 'sameLastName';
const roleNameShape = /^[a-z][a-z0-9_]{0,39}$/;

interface Bounds {
  min: number;
  max: number;
  integer: boolean;
}

/** The number schema at `path` ('*' = a record's values), unwrapping defaults: bounds live in one place. */
function boundsAt(path: string[]): Bounds {
  const unwrap = (s: z.ZodType): z.ZodType => (s instanceof z.ZodDefault ? unwrap(s.unwrap() as z.ZodType) : s);
  let schema: z.ZodType = monitorConfigSchema;
  for (const key of path) {
    const node = unwrap(schema);
    if (key === '*' && node instanceof z.ZodRecord) schema = node.valueType as z.ZodType;
    else if (node instanceof z.ZodObject) schema = node.shape[key] as z.ZodType;
    else throw new Error(`monitor settings: no field ${path.join('.')}`);
  }
  const leaf = unwrap(schema);
  if (!(leaf instanceof z.ZodNumber) || leaf.minValue === null || leaf.maxValue === null) throw new Error(`monitor settings: ${path.join('.')} is not a bounded number`);
  return { min: leaf.minValue, max: leaf.maxValue, integer: leaf.isInt };
}

const roleBaselineBounds = boundsAt([ROLE_BASELINE, '*']);
const numberFields = numberSpecs.map((spec) => ({ ...spec, name: spec.path.join('.'), bounds: boundsAt(spec.path) }));

const roleLabel = (role: string) => role.charAt(0).toUpperCase() + role.slice(1).replace(/_/g, ' ');
const format = (n: number) => n.toLocaleString('en-US');
/** The message for any bad number: it names the field and its range, never echoes the value. */
export const rangeMessage = (label: string, b: Bounds) => `${label} must be ${b.integer ? 'a whole number' : 'a number'} from ${format(b.min)} to ${format(b.max)}.`;

export interface MonitorNumberField {
  kind: 'number';
  name: string;
  label: string;
  hint: string;
  group: MonitorSettingGroup;
  min: number;
  max: number;
  integer: boolean;
  /** The value in force; null for a role without its own baseline. */
  value: number | null;
}
export interface MonitorTextField {
  kind: 'text' | 'switch';
  name: string;
  label: string;
  hint: string;
  group: MonitorSettingGroup;
  value: string;
}
export type MonitorField = MonitorNumberField | MonitorTextField;

export interface MonitorSettingsView {
  canEdit: boolean;
  fields: MonitorField[];
  /** 'default': nothing saved; 'invalid': a saved row outside the bounds is ignored (defaults apply). */
  source: 'default' | 'saved' | 'invalid';
  updatedAt: string | null;
  updatedBy: string | null;
  /** Optimistic-lock token for the form: the row's updatedAt, '' when none. */
  version: string;
}

const getPath = (config: MonitorConfig, path: string[]): number =>
  path.reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], config) as number;

function fieldsOf(config: MonitorConfig, roleNames: string[]): MonitorField[] {
  const volume = numberFields.filter((f) => f.group === 'volume');
  const rest = numberFields.filter((f) => f.group !== 'volume');
  const asField = (f: (typeof numberFields)[number]): MonitorField => ({
    kind: 'number', name: f.name, label: f.label, hint: f.hint, group: f.group, ...f.bounds, value: getPath(config, f.path),
  });
  return [
    ...volume.map(asField),
    ...roleNames.map((role): MonitorField => ({
      kind: 'number',
      name: `${ROLE_BASELINE}.${role}`,
      label: `Baseline for ${roleLabel(role)}`,
      hint: 'Busy-hour accesses for a new user with this role; empty: the baseline for other roles.',
      group: 'volume',
      ...roleBaselineBounds,
      value: config.roleBaselines[role] ?? null,
    })),
    ...rest.map(asField),
    { kind: 'text', name: TIME_ZONE, label: 'Time zone', hint: 'An IANA name, e.g. UTC or Europe/London.', group: 'night', value: config.offHours.timeZone },
    { kind: 'switch', name: SAME_LAST_NAME, label: 'Shared-surname rule', hint: '', group: 'surname', value: config.sameLastName ? 'on' : 'off' },
  ];
}

interface StoredSettings {
  config: MonitorConfig;
  source: MonitorSettingsView['source'];
  updatedAt: Date | null;
  updatedBy: string | null;
}

/** The settings in force, read from the row (not the monitor's per-process cache). */
async function readStored(q: Queryable): Promise<StoredSettings> {
  const [row] = await q
    .select({ value: settings.value, updatedAt: settings.updatedAt, updatedBy: users.email })
    .from(settings)
    .leftJoin(users, eq(users.id, settings.updatedBy))
    .where(eq(settings.key, MONITOR_SETTING))
    .limit(1);
  if (!row) return { config: defaultMonitorConfig, source: 'default', updatedAt: null, updatedBy: null };
  const parsed = monitorConfigSchema.safeParse(row.value);
  return { config: parsed.success ? parsed.data : defaultMonitorConfig, source: parsed.success ? 'saved' : 'invalid', updatedAt: row.updatedAt, updatedBy: row.updatedBy };
}

/** Every role in the system and any role the settings already name, so each can get a baseline. */
async function baselineRoles(q: Queryable, config: MonitorConfig): Promise<string[]> {
  const rows = await q.select({ name: roles.name }).from(roles).orderBy(asc(roles.name));
  return [...new Set([...rows.map((r) => r.name), ...Object.keys(config.roleBaselines)])].filter((r) => roleNameShape.test(r)).sort();
}

/**
 * The settings page. Two kinds of reader (an admin who edits, a privacy officer who reads), so
 * the check is data-dependent rather than one permission; a refusal is audited against the row.
 */
export const getMonitorSettings = operation({
  name: 'admin.setting.monitor-view',
  action: auditActions.settings.view,
  resourceType: 'setting',
  deniedMessage: adminMessages.denied,
  target: () => MONITOR_SETTING,
  input: z.unknown(),
  audits: 'refusals',
  authorize: async ({ viewer }) => {
    const canEdit = hasAdminPermission(viewer, adminPermission.monitorSettings);
    if (canEdit || hasAuditPermission(viewer, auditPermission.viewIncidents)) return { allowed: true, facts: { canEdit } };
    return { allowed: false, reason: 'denied' };
  },
  run: async ({ tx, facts }) => {
    const stored = await readStored(tx);
    return ok<MonitorSettingsView>({
      canEdit: facts.canEdit,
      fields: fieldsOf(stored.config, await baselineRoles(tx, stored.config)),
      source: stored.source,
      updatedAt: stored.updatedAt?.toISOString() ?? null,
      updatedBy: stored.updatedBy,
      version: stored.updatedAt?.toISOString() ?? '',
    });
  },
});

type FormInput = Record<string, unknown>;
const text = (input: FormInput, name: string) => (typeof input[name] === 'string' ? (input[name] as string).trim() : undefined);
const numberOf = (raw: string | undefined) => (raw ? Number(raw) : Number.NaN);

/**
 * The form's fields over the settings in force (`base`), checked by monitorConfigSchema. Errors
 * are keyed by field name; an empty role baseline means "none of its own"; unknown fields are
 * ignored, and a setting the form does not show keeps its value.
 */
export function parseMonitorSettings(
  input: FormInput,
  roleNames: string[],
  base: MonitorConfig = defaultMonitorConfig,
): { ok: true; config: MonitorConfig } | { ok: false; fieldErrors: Record<string, string> } {
  const candidate = { ...structuredClone(base), roleBaselines: {} } as Record<string, unknown>;
  for (const f of numberFields) {
    let node = candidate;
    for (const key of f.path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[f.path[f.path.length - 1] as string] = numberOf(text(input, f.name));
  }
  for (const role of roleNames) {
    const raw = text(input, `${ROLE_BASELINE}.${role}`);
    if (raw) (candidate.roleBaselines as Record<string, number>)[role] = numberOf(raw);
  }
  (candidate.offHours as Record<string, unknown>).timeZone = text(input, TIME_ZONE) ?? '';
  const surname = text(input, SAME_LAST_NAME);
  candidate.sameLastName = surname === 'on' ? true : surname === 'off' ? false : undefined;

  const fieldErrors: Record<string, string> = {};
  if (surname !== 'on' && surname !== 'off') fieldErrors[SAME_LAST_NAME] = 'Shared-surname rule: choose on or off.';
  const parsed = monitorConfigSchema.safeParse(candidate);
  for (const issue of parsed.success ? [] : parsed.error.issues) {
    const name = issue.path.join('.');
    const field = numberFields.find((f) => f.name === name);
    if (field) fieldErrors[name] ??= rangeMessage(field.label, field.bounds);
    else if (issue.path[0] === ROLE_BASELINE && issue.path.length === 2) fieldErrors[name] ??= rangeMessage(`Baseline for ${roleLabel(String(issue.path[1]))}`, roleBaselineBounds);
    else if (name === TIME_ZONE) fieldErrors[name] ??= 'Time zone must be an IANA name such as UTC or Europe/London.';
    else if (name === 'denialBurst') fieldErrors['denialBurst.critical'] ??= 'Refusals for CRITICAL must be above Refusals for HIGH.';
    else fieldErrors[name || 'form'] ??= 'These settings are not valid.';
  }
  if (Object.keys(fieldErrors).length || !parsed.success) return { ok: false, fieldErrors };
  return { ok: true, config: parsed.data };
}

export const changedPaths = (before: unknown, after: unknown, prefix = ''): string[] => {
  if (typeof before === 'object' && before && typeof after === 'object' && after) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => changedPaths((before as Record<string, unknown>)[k], (after as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k));
  }
  return before === after ? [] : [prefix];
};

/**
 * Saves the whole form, or nothing. Needs `admin: settings.monitor` and a fresh re-authentication.
 * A change that moves any setting away from its default (a higher floor, a longer window, a rule
 * off) waits for a privacy officer's approval (two-person rule, lib/domain/access/two-person.ts);
 * one that only brings settings back to their defaults applies now.
 */
export const updateMonitorSettings = operation({
  name: 'admin.setting.monitor-update',
  action: auditActions.settings.update,
  resourceType: 'setting',
  ...adminOnly(adminPermission.monitorSettings),
  // The form's fields are checked against the bounds in run, where the settings in force are read.
  input: z.preprocess((v) => (v && typeof v === 'object' ? v : {}), z.record(z.string(), z.unknown())),
  stepUp: adminStepUp,
  ...serialisedAdminChange,
  auditedFailures: ['reauth_required'],
  run: async (ctx): Promise<Result<{ config: MonitorConfig; requestId: string | null }, 'invalid' | 'conflict' | 'reauth_required'>> => {
    const { tx, viewer, input: form, recentlyReauthenticated, audit, unchanged } = ctx;
    const stored = await readStored(tx);
    const parsed = parseMonitorSettings(form, await baselineRoles(tx, stored.config), stored.config);
    if (!parsed.ok) {
      const errors = Object.values(parsed.fieldErrors);
      const more = errors.length > 1 ? ` (and ${errors.length - 1} more below)` : '';
      return fail('invalid', `Nothing was saved. ${errors[0]}${more}`, parsed.fieldErrors);
    }
    if ((stored.updatedAt?.toISOString() ?? '') !== (text(form, 'version') ?? '')) return fail('conflict', adminMessages.conflict);
    const changed = changedPaths(stored.config, parsed.config);
    if (changed.length === 0 && stored.source !== 'invalid') {
      unchanged();
      return ok({ config: stored.config, requestId: null }, 'No change: the settings were already as entered.');
    }
    if (!recentlyReauthenticated) return fail('reauth_required', stepUpMessages.reauth_required);
    const offDefault = new Set(changedPaths(defaultMonitorConfig, parsed.config));
    if (changed.some((path) => offDefault.has(path))) {
      const { requestId } = await fileRequest(ctx, { kind: 'monitor_settings', change: { config: parsed.config, changed, expectedVersion: stored.updatedAt?.toISOString() ?? '' } });
      return ok({ config: stored.config, requestId }, filedMessage('privacy_officer'));
    }
    const config = await saveMonitorConfig(tx, parsed.config, viewer.userId);
    await audit({ resourceId: MONITOR_SETTING, details: { changed, before: stored.config, after: config, replacedInvalid: stored.source === 'invalid' } });
    const count = changed.length ? `${changed.length} setting${changed.length === 1 ? '' : 's'} changed` : 'the ignored settings were replaced';
    return ok({ config, requestId: null }, `Saved: ${count}. Every server applies them within 30 seconds.`);
  },
  // saveMonitorConfig forgot this process's cache inside the transaction; forget again after it
  // commits, in case an access in between cached the old settings.
  afterCommit: () => forgetMonitorConfig(),
});
