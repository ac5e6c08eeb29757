import 'server-only';
import { eq } from 'drizzle-orm';
import type { Queryable } from '@/db/client';
import { settings } from '@/db/schema';
import { now as clockNow } from '@/lib/platform/clock';
import { MONITOR_SETTING, defaultMonitorConfig, monitorConfigSchema, type MonitorConfig } from '@/lib/domain/monitor/thresholds';

export { MONITOR_SETTING, defaultMonitorConfig, monitorConfigSchema, type MonitorConfig };

/**
 * Read on every audited access, so cached briefly per process: a changed setting applies
 * everywhere within CACHE_MS without a query per access.
 */
const CACHE_MS = 30_000;
/*
 * On globalThis: the listener evaluating accesses may be a different copy of this module (the
 * one instrumentation.ts registered) from the one an admin's save runs in, and the save must
 * reach it.
 */
const shared = globalThis as unknown as { vigilMonitorConfig?: { config: MonitorConfig; loadedAt: number } };

export async function getMonitorConfig(q: Queryable): Promise<MonitorConfig> {
  const cached = shared.vigilMonitorConfig;
  if (cached && Date.now() - cached.loadedAt < CACHE_MS) return cached.config;
  const [row] = await q.select({ value: settings.value }).from(settings).where(eq(settings.key, MONITOR_SETTING)).limit(1);
  const parsed = row ? monitorConfigSchema.safeParse(row.value) : null;
  const loaded = parsed?.success ? parsed.data : defaultMonitorConfig;
  // Same settings → same object, so per-user profiles keyed on it stay valid across reloads.
  const config = cached && JSON.stringify(cached.config) === JSON.stringify(loaded) ? cached.config : loaded;
  shared.vigilMonitorConfig = { config, loadedAt: Date.now() };
  return config;
}

/** Stores (validated) monitor settings; callers audit the change. */
export async function saveMonitorConfig(q: Queryable, value: unknown, updatedBy: string | null): Promise<MonitorConfig> {
  const config = monitorConfigSchema.parse(value);
  await q
    .insert(settings)
    .values({ key: MONITOR_SETTING, value: config, updatedBy })
    .onConflictDoUpdate({ target: settings.key, set: { value: config, updatedBy, updatedAt: clockNow() } });
  shared.vigilMonitorConfig = undefined;
  return config;
}

/** Forget the cached settings (tests, and after an update in this process). */
export function forgetMonitorConfig(): void {
  shared.vigilMonitorConfig = undefined;
}
