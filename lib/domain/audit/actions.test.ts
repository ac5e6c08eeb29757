/**
 * The audit action registry: every action written down once, well-formed and described, and no
 * action name spelt out anywhere else in the product. The scan parses each file (comments are
 * not code) and reports a quoted name, or a template literal that can produce one (for example
 * `${section}.create`): the registry's constants and sectionAction() are the way to name them.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { permissionNames } from '@/lib/domain/access/permission-names';
import { chartSections } from '@/lib/domain/access/roles';
import { auditActionList, auditActions, describeAction, isPhiAccess, sectionAction, type AuditAction } from '@/lib/domain/audit/actions';
import { scanProduct, scanSource } from '@/test/name-scan';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const PRODUCT = ['lib', 'app', 'components', 'db', 'scripts'];
const REGISTRY = 'lib/domain/audit/actions.ts';
/** The permission registry may name a permission that is also an action ('audit.export'). */
const PERMISSION_REGISTRY = 'lib/domain/access/permission-names.ts';
const names = auditActionList.map((a) => a.name);

describe('the audit action registry', () => {
  it('lists every action once, each named area.verb in lower case, with its PHI flag and a description', () => {
    expect(new Set(names).size).toBe(names.length);
    for (const entry of auditActionList) {
      const segments = entry.name.split('.');
      expect(segments.length, entry.name).toBeGreaterThanOrEqual(2);
      for (const segment of segments) expect(segment, entry.name).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(typeof entry.phi, entry.name).toBe('boolean');
      expect(entry.about.trim(), entry.name).not.toBe('');
      expect(entry.about, entry.name).not.toMatch(/\n/);
      expect(describeAction(entry.name)).toBe(entry.about);
      expect(isPhiAccess(entry.name)).toBe(entry.phi);
    }
  });

  it('offers each name as a constant under its area, and lists exactly those', () => {
    const constants = Object.values(auditActions).flatMap((area) => Object.values(area) as string[]);
    expect([...constants].sort()).toEqual([...names].sort());
    expect(auditActions.user.disable).toBe('user.disable');
    expect(auditActions.breakGlass.identityView).toBe('break_glass.identity_view');
    expect(auditActions.encounters.billingStatus).toBe('encounters.billing_status');
  });

  it('has the three write actions of every chart section, all PHI accesses', () => {
    for (const section of chartSections) {
      for (const verb of ['create', 'update', 'write'] as const) {
        const action: AuditAction = sectionAction(section, verb);
        expect(action).toBe(`${section}.${verb}`);
        expect(names).toContain(action);
        expect(isPhiAccess(action), action).toBe(true);
      }
    }
  });

  it('knows nothing of a name it does not register (old entries stay readable as text)', () => {
    expect(isPhiAccess('chart.print')).toBe(false);
    expect(describeAction('chart.print')).toBeNull();
  });
});

describe('the source scan', () => {
  const plant = (source: string) => scanSource('planted.ts', source, names).map((hit) => hit.text);

  it('finds a quoted action name, a no-substitution template and a template that can produce one', () => {
    expect(plant(`recordAudit(tx, { action: 'user.disable' });`)).toEqual([`'user.disable'`]);
    expect(plant('const a = "chart.view", b = `incident.open`;')).toEqual(['"chart.view"', '`incident.open`']);
    expect(plant('const action = `${section}.create`;')).toEqual(['`${section}.create`']);
    expect(plant('const action = `break_glass.${verb}`;')).toEqual(['`break_glass.${verb}`']);
    expect(plant(`type Kind = 'session.timeout';`)).toEqual([`'session.timeout'`]);
  });

  it('leaves comments, constants, other strings and templates that name nothing alone', () => {
    expect(
      plant(
        [
          `// audited as 'user.disable'`,
          `/** \`incident.open\` + \`user.disable\` */`,
          'const a = auditActions.user.disable;',
          `const b = 'user.disabled', c = 'user', d = 'patients.sealed_demographics';`,
          'const e = `${table}.${column}.${rowId}`, f = `${at}_${seq}`, g = `${prefix}.rules`;',
        ].join('\n'),
      ),
    ).toEqual([]);
  });

  it('reports the file and line of a planted name', () => {
    expect(scanSource('lib/x.ts', `const x = 1;\nconst y = 'key.shred';`, names)).toEqual([
      { file: 'lib/x.ts', line: 2, text: `'key.shred'`, names: ['key.shred'] },
    ]);
  });
});

describe('the product', () => {
  it('names every audit action through the registry, never as a string', () => {
    const permissions = new Set<string>(Object.values(permissionNames).flat());
    const hits = scanProduct(ROOT, PRODUCT, names, [REGISTRY]).filter(
      (hit) => !(hit.file === PERMISSION_REGISTRY && hit.names.every((name) => permissions.has(name))),
    );
    expect(hits.map((hit) => `${hit.file}:${hit.line} ${hit.text}`)).toEqual([]);
  });
});
