import 'server-only';
import { count, desc, isNotNull } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable } from '@/db/client';
import { keyRotations, patientKeys } from '@/db/schema';
import { adminPermission } from '@/lib/domain/access/permission-names';
import { auditActions } from '@/lib/domain/audit/actions';
import { ok } from '@/lib/domain/result';
import { getKeyProvider } from '@/lib/platform/crypto/key-provider';
import { env } from '@/lib/platform/env';
import { operation } from '@/lib/pipeline/operation';
import { adminOnly } from '@/lib/features/admin/messages';

/**
 * The master keys' lifecycle for administrators: each version, where it lives, its age, how
 * many data keys it wraps, the last rotation and when the next is due. No key, no PHI.
 */
export const DAY_MS = 86_400_000;

export interface MasterKeyRow {
  version: number;
  location: string;
  createdAt: string;
  retiredAt: string | null;
  ageDays: number;
  dataKeys: number;
  current: boolean;
}

export interface KeyLifecycle {
  store: string;
  versions: MasterKeyRow[];
  maxAgeDays: number;
  /** When the current version reaches its maximum age. */
  nextRotationDue: string;
  daysUntilDue: number;
  lastRotation: { targetVersion: number; startedAt: string; finishedAt: string | null; rewrapped: number } | null;
}

/** The lifecycle as of `at`, read in `q`: shared by the page and the reminder check. */
export async function readKeyLifecycle(q: Queryable, at: Date): Promise<KeyLifecycle> {
  const provider = getKeyProvider();
  const maxAgeDays = env().VIGIL_KEY_MAX_AGE_DAYS;
  const counts = await q
    .select({ version: patientKeys.masterKeyVersion, n: count() })
    .from(patientKeys)
    .where(isNotNull(patientKeys.wrappedKey))
    .groupBy(patientKeys.masterKeyVersion);
  const byVersion = new Map(counts.map((c) => [c.version, Number(c.n)]));
  const current = provider.currentVersion();
  const versions = provider.describe().map((v) => ({
    version: v.version,
    location: v.location,
    createdAt: v.createdAt,
    retiredAt: v.retiredAt ?? null,
    ageDays: Math.floor((at.getTime() - Date.parse(v.createdAt)) / DAY_MS),
    dataKeys: byVersion.get(v.version) ?? 0,
    current: v.version === current,
  }));
  const currentRow = versions.find((v) => v.current);
  const due = new Date(Date.parse(currentRow?.createdAt ?? at.toISOString()) + maxAgeDays * DAY_MS);
  const [last] = await q.select().from(keyRotations).orderBy(desc(keyRotations.startedAt)).limit(1);
  return {
    store: provider.name,
    versions,
    maxAgeDays,
    nextRotationDue: due.toISOString(),
    daysUntilDue: Math.ceil((due.getTime() - at.getTime()) / DAY_MS),
    lastRotation: last
      ? { targetVersion: last.targetVersion, startedAt: last.startedAt.toISOString(), finishedAt: last.finishedAt?.toISOString() ?? null, rewrapped: last.rewrapped }
      : null,
  };
}

export const viewKeyLifecycle = operation({
  name: 'admin.keys.lifecycle',
  action: auditActions.key.lifecycleView,
  resourceType: 'master_key',
  ...adminOnly(adminPermission.keyLifecycle),
  input: z.unknown(),
  run: async ({ tx, at, audit }) => {
    const lifecycle = await readKeyLifecycle(tx, at);
    await audit({ details: { versions: lifecycle.versions.length, daysUntilDue: lifecycle.daysUntilDue } });
    return ok(lifecycle);
  },
});
