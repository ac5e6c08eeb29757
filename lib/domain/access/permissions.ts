import 'server-only';
import { z } from 'zod';
import type { PermissionName } from '@/lib/domain/access/permission-names';

/**
 * Permissions are patterns in star notation grouped by category, e.g.
 * { ehr_read: ["patient.*"], ehr_write: ["patient.vitals"] }. A pattern is dot-separated
 * segments of lower-case words; a final `*` matches one or more further segments. Nothing else
 * is a wildcard, so "patient*" or "*.vitals" are rejected rather than guessed at.
 */
export const permissionCategories = ['ehr_read', 'ehr_write', 'emergency', 'admin', 'audit'] as const;
export type PermissionCategory = (typeof permissionCategories)[number];
export type PermissionSet = Partial<Record<PermissionCategory, string[]>>;

const segment = '[a-z][a-z0-9_]*';
const patternShape = new RegExp(`^(${segment})(\\.${segment})*(\\.\\*)?$|^\\*$`);

export const permissionPattern = z
  .string()
  .trim()
  .max(100)
  .regex(patternShape, 'Use dot-separated lower-case names, optionally ending in ".*" (e.g. "patient.*").');

export const permissionSetSchema = z
  .object(Object.fromEntries(permissionCategories.map((c) => [c, z.array(permissionPattern).max(50).optional()])))
  .strict() as unknown as z.ZodType<PermissionSet>;

export function patternMatches(pattern: string, permission: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return permission.startsWith(pattern.slice(0, -1));
  return pattern === permission;
}

/** `permission` must be registered for its category (lib/domain/access/permission-names.ts). */
export function hasPermission<C extends PermissionCategory>(set: PermissionSet, category: C, permission: PermissionName<C>): boolean {
  return (set[category] ?? []).some((pattern) => patternMatches(pattern, permission));
}

/** A user holding several roles has the union of their permissions. */
export function unionPermissions(sets: PermissionSet[]): PermissionSet {
  const union: PermissionSet = {};
  for (const set of sets) {
    for (const category of permissionCategories) {
      const patterns = set[category];
      if (patterns?.length) union[category] = [...new Set([...(union[category] ?? []), ...patterns])];
    }
  }
  return union;
}
