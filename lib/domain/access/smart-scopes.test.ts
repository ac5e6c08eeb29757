import { describe, expect, it } from 'vitest';
import { narrowPermissions, parseScopes, scopeString, typesFor, withinRegistered } from '@/lib/domain/access/smart-scopes';
import { defaultRoles } from '@/lib/domain/access/roles';

describe('SMART scopes onto role lenses', () => {
  it('reads v1 and v2 forms; write-only scopes and unknown types grant nothing', () => {
    expect(parseScopes('patient/*.read').patient).toHaveLength(8);
    expect(parseScopes('user/Observation.rs user/Condition.r').user).toEqual(['Observation', 'Condition']);
    expect(parseScopes('user/Observation.cud user/Medication.rs patient/*.write').user).toEqual([]);
    expect(parseScopes('system/*.read').user).toEqual([]);
    expect(scopeString(parseScopes('launch/patient patient/Patient.rs'))).toBe('launch/patient patient/Patient.rs');
  });

  it('openid and fhirUser only as registered, and fhirUser only with openid (the ID token carries it)', () => {
    const registered = parseScopes('openid fhirUser user/*.rs');
    expect(scopeString(withinRegistered(parseScopes('openid fhirUser user/*.rs'), registered))).toBe('openid fhirUser user/*.rs');
    expect(scopeString(withinRegistered(parseScopes('fhirUser user/*.rs'), registered))).toBe('user/*.rs');
    expect(scopeString(withinRegistered(parseScopes('openid fhirUser user/*.rs'), parseScopes('user/*.rs')))).toBe('user/*.rs');
  });

  it('patient-level scopes reach the launch patient only', () => {
    const grant = parseScopes('patient/*.rs user/Patient.rs');
    expect(typesFor(grant, 'a', 'a')).toHaveLength(8);
    expect(typesFor(grant, 'b', 'a')).toEqual(['Patient']);
    expect(typesFor(grant, 'b', null)).toEqual(['Patient']);
  });

  it('narrowing never widens a role: a nurse with user/*.rs still has no progress notes; billing no vitals', () => {
    const all = parseScopes('user/*.rs').user;
    const nurse = narrowPermissions(defaultRoles.nurse.permissions, all);
    expect(nurse.ehr_read).not.toContain('patient.progress_notes');
    expect(nurse.ehr_read).toContain('patient.nursing_notes');
    expect(nurse.ehr_write).toBeUndefined();
    expect(nurse.emergency).toBeUndefined();
    expect(narrowPermissions(defaultRoles.billing.permissions, all).ehr_read?.sort()).toEqual(['patient.demographics', 'patient.encounters', 'patient.insurance']);
    expect(narrowPermissions(defaultRoles.admin.permissions, all)).toEqual({ ehr_read: [] });
    expect(narrowPermissions(defaultRoles.physician.permissions, ['Patient'])).toEqual({ ehr_read: ['patient.demographics'] });
  });

  it('AuditEvent is user-level only and keeps the audit search permission only for a role that holds it', () => {
    expect(parseScopes('user/AuditEvent.rs').user).toEqual(['AuditEvent']);
    expect(parseScopes('user/*.read').user).toContain('AuditEvent');
    expect(parseScopes('patient/*.rs patient/AuditEvent.rs').patient).not.toContain('AuditEvent');
    expect(parseScopes('system/*.rs system/AuditEvent.read').system).not.toContain('AuditEvent');
    expect(scopeString(parseScopes('user/AuditEvent.read'))).toBe('user/AuditEvent.rs');
    expect(scopeString(parseScopes('user/*.read'))).toBe('user/*.rs');
    const privacy = defaultRoles.privacy_officer.permissions;
    expect(narrowPermissions(privacy, ['AuditEvent'])).toEqual({ ehr_read: [], audit: ['audit.read'] });
    expect(narrowPermissions(privacy, ['Patient'])).toEqual({ ehr_read: [] });
    expect(narrowPermissions(defaultRoles.physician.permissions, ['AuditEvent'])).toEqual({ ehr_read: [] });
  });
});
