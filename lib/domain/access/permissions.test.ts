import { describe, expect, it } from 'vitest';
import { hasPermission, patternMatches, permissionPattern, permissionSetSchema, unionPermissions, type PermissionSet } from './permissions';

describe('patternMatches', () => {
  it('matches a plain pattern only to the same permission', () => {
    expect(patternMatches('patient.vitals', 'patient.vitals')).toBe(true);
    expect(patternMatches('patient.vitals', 'patient.vital')).toBe(false);
    expect(patternMatches('patient.vitals', 'patient.vitals.history')).toBe(false);
    expect(patternMatches('patient.vitals', 'patient')).toBe(false);
  });

  it('lets a final ".*" stand for one or more further segments, never for none', () => {
    expect(patternMatches('patient.*', 'patient.vitals')).toBe(true);
    expect(patternMatches('patient.*', 'patient.encounters.billing_status')).toBe(true);
    expect(patternMatches('patient.*', 'patient')).toBe(false);
    expect(patternMatches('patient.encounters.*', 'patient.encounters.billing_status')).toBe(true);
    expect(patternMatches('patient.encounters.*', 'patient.encounters')).toBe(false);
  });

  it('matches whole segments: "patient.*" does not reach "patients.*" or "patient_x"', () => {
    expect(patternMatches('patient.*', 'patients.vitals')).toBe(false);
    expect(patternMatches('patient.*', 'patient_admin.vitals')).toBe(false);
    expect(patternMatches('users.*', 'users_extra.create')).toBe(false);
  });

  it('treats a lone "*" as everything', () => {
    expect(patternMatches('*', 'patient.vitals')).toBe(true);
    expect(patternMatches('*', 'break_glass')).toBe(true);
  });

  // The schema keeps these out of the database; should one get in anyway, it grants nothing.
  it('takes any other star literally, so a malformed pattern matches nothing', () => {
    expect(patternMatches('patient*', 'patient.vitals')).toBe(false);
    expect(patternMatches('patient*', 'patients')).toBe(false);
    expect(patternMatches('*.vitals', 'patient.vitals')).toBe(false);
    expect(patternMatches('patient.*.notes', 'patient.progress.notes')).toBe(false);
  });
});

describe('hasPermission', () => {
  const set: PermissionSet = { ehr_read: ['patient.*'], ehr_write: ['patient.vitals'], emergency: ['break_glass'] };

  it('looks only in the category asked about', () => {
    expect(hasPermission(set, 'ehr_read', 'patient.insurance')).toBe(true);
    expect(hasPermission(set, 'ehr_write', 'patient.vitals')).toBe(true);
    expect(hasPermission(set, 'ehr_write', 'patient.insurance')).toBe(false);
    expect(hasPermission(set, 'emergency', 'break_glass')).toBe(true);
    expect(hasPermission({ ehr_read: ['*'], ehr_write: ['*'] }, 'emergency', 'break_glass')).toBe(false);
    // @ts-expect-error another category's permission does not compile, and is refused at run time too
    expect(hasPermission(set, 'ehr_read', 'break_glass')).toBe(false);
  });

  it('denies a category the set does not mention, and everything to an empty set', () => {
    expect(hasPermission(set, 'admin', 'users.create')).toBe(false);
    expect(hasPermission(set, 'audit', 'audit.read')).toBe(false);
    expect(hasPermission({}, 'ehr_read', 'patient.demographics')).toBe(false);
    expect(hasPermission({ ehr_read: [] }, 'ehr_read', 'patient.demographics')).toBe(false);
  });

  it('grants when any one pattern matches', () => {
    expect(hasPermission({ admin: ['roles.view', 'users.*'] }, 'admin', 'users.disable')).toBe(true);
    expect(hasPermission({ admin: ['roles.view', 'users.*'] }, 'admin', 'roles.edit')).toBe(false);
  });
});

describe('unionPermissions', () => {
  it('gives a holder of several roles every pattern of each, once, category by category', () => {
    const union = unionPermissions([
      { ehr_read: ['patient.*'], ehr_write: ['patient.problems'], emergency: ['break_glass'] },
      { ehr_read: ['patient.vitals', 'patient.*'], ehr_write: ['patient.vitals'], emergency: ['break_glass'] },
      { admin: ['users.*'] },
    ]);
    expect(union).toEqual({
      ehr_read: ['patient.*', 'patient.vitals'],
      ehr_write: ['patient.problems', 'patient.vitals'],
      emergency: ['break_glass'],
      admin: ['users.*'],
    });
  });

  it('adds no category that no role grants, and nothing at all for no roles', () => {
    expect(unionPermissions([])).toEqual({});
    expect(unionPermissions([{ ehr_read: [] }, {}])).toEqual({});
    expect(unionPermissions([{ audit: ['audit.*'] }])).not.toHaveProperty('ehr_read');
  });

  it('leaves the roles it was given unchanged', () => {
    const physician: PermissionSet = { ehr_read: ['patient.*'] };
    const nurse: PermissionSet = { ehr_read: ['patient.vitals'] };
    unionPermissions([physician, nurse]);
    expect(physician).toEqual({ ehr_read: ['patient.*'] });
    expect(nurse).toEqual({ ehr_read: ['patient.vitals'] });
  });
});

describe('permissionPattern', () => {
  it.each(['patient.*', 'patient.vitals', 'patient.encounters.billing_status', 'break_glass', 'users.*', 'audit2.read', '*'])('accepts %j', (pattern) => {
    expect(permissionPattern.parse(pattern)).toBe(pattern);
  });

  it('trims surrounding spaces', () => {
    expect(permissionPattern.parse('  patient.vitals ')).toBe('patient.vitals');
  });

  it.each([
    'patient*',
    '*.vitals',
    'patient.*.notes',
    'patient.**',
    'patient.*x',
    '**',
    'Patient.vitals',
    'PATIENT.*',
    'patient.Vitals',
    'patient.',
    '.vitals',
    'patient..vitals',
    'patient vitals',
    'patient.vital-signs',
    '1patient.vitals',
    'patient._vitals',
    '',
    '   ',
    `patient.${'a'.repeat(100)}`,
  ])('rejects %j', (pattern) => {
    expect(permissionPattern.safeParse(pattern).success).toBe(false);
  });

  it('explains the notation it wants', () => {
    const result = permissionPattern.safeParse('patient*');
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toMatch(/dot-separated lower-case names.*"\.\*"/);
  });

  it('rejects what is not text', () => {
    for (const value of [42, null, undefined, ['patient.*'], { pattern: 'patient.*' }]) {
      expect(permissionPattern.safeParse(value).success).toBe(false);
    }
  });
});

describe('permissionSetSchema', () => {
  it('accepts patterns under the known categories', () => {
    const set = { ehr_read: ['patient.*'], ehr_write: ['patient.vitals'], emergency: ['break_glass'], admin: [], audit: ['audit.*'] };
    expect(permissionSetSchema.parse(set)).toEqual(set);
  });

  it('rejects an unknown category, a malformed pattern inside a category and an overlong list', () => {
    expect(permissionSetSchema.safeParse({ superuser: ['*'] }).success).toBe(false);
    expect(permissionSetSchema.safeParse({ ehr_read: ['patient.*', '*.vitals'] }).success).toBe(false);
    expect(permissionSetSchema.safeParse({ ehr_read: Array.from({ length: 51 }, (_, i) => `patient.s${i}`) }).success).toBe(false);
  });
});
