/**
 * The permission registry: every name a check may ask for is well-formed, unique in its
 * category, grantable (the role editor accepts it) and held by some built-in role (save the
 * chart writes no role makes); and no dotted permission name is spelt out in the product
 * outside the registry. (`break_glass`, the one undotted name, is also a relationship kind in
 * the policy, so it is left out of the scan.)
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { namesKnownPermission } from '@/lib/domain/access/admin-rules';
import { permissionNames } from '@/lib/domain/access/permission-names';
import { hasPermission, permissionCategories, permissionPattern, unionPermissions } from '@/lib/domain/access/permissions';
import { defaultRoles } from '@/lib/domain/access/roles';
import { auditActionList } from '@/lib/domain/audit/actions';
import { scanProduct, scanSource } from '@/test/name-scan';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const REGISTRY = 'lib/domain/access/permission-names.ts';
/**
 * The action registry may name an action that is also a permission ('audit.export'), and builds
 * section actions with a template (`${section}.create`, which could also spell 'users.create').
 */
const ACTION_REGISTRY = 'lib/domain/audit/actions.ts';

describe('the permission registry', () => {
  const everyone = unionPermissions(Object.values(defaultRoles).map((role) => role.permissions));

  it('names each permission once per category, in pattern syntax, grantable and held by some built-in role', () => {
    // ehr_write shares the chart names, and no role writes demographics, insurance or encounters.
    const unwritten = new Set(['patient.demographics', 'patient.insurance', 'patient.encounters']);
    for (const category of permissionCategories) {
      const names = permissionNames[category];
      expect(new Set(names).size, category).toBe(names.length);
      for (const name of names) {
        expect(permissionPattern.safeParse(name).success, name).toBe(true);
        expect(name, name).not.toContain('*');
        expect(namesKnownPermission(category, name), `${category} ${name}`).toBe(true);
        expect(hasPermission(everyone, category, name), `${category} ${name}`).toBe(!(category === 'ehr_write' && unwritten.has(name)));
      }
    }
  });
});

describe('the product', () => {
  const dotted = [...new Set(Object.values(permissionNames).flat())].filter((name) => name.includes('.'));

  it('the scan finds a planted permission name', () => {
    expect(scanSource('planted.ts', `hasAdminPermission(viewer, 'settings.break_glass');`, dotted).map((hit) => hit.text)).toEqual([`'settings.break_glass'`]);
  });

  it('names every permission through the registry, never as a string', () => {
    const actions = new Set<string>(auditActionList.map((a) => a.name));
    const hits = scanProduct(ROOT, ['lib', 'app', 'components', 'db', 'scripts'], dotted, [REGISTRY]).filter(
      (hit) => !(hit.file === ACTION_REGISTRY && (hit.text.startsWith('`') || hit.names.every((name) => actions.has(name)))),
    );
    expect(hits.map((hit) => `${hit.file}:${hit.line} ${hit.text}`)).toEqual([]);
  });
});
