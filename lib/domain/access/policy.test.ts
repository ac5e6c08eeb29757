import { describe, expect, it } from 'vitest';
import { unionPermissions, type PermissionSet } from './permissions';
import { canBreakGlass, decide, hasAdminPermission, hasAuditPermission, type Relationship } from './policy';
import { chartPermission } from './permission-names';
import { chartSections, defaultRoles } from './roles';

const as = (permissions: PermissionSet) => ({ permissions });
const physician = as(defaultRoles.physician.permissions);
const nurse = as(defaultRoles.nurse.permissions);
const billing = as(defaultRoles.billing.permissions);
const admin = as(defaultRoles.admin.permissions);
const privacy = as(defaultRoles.privacy_officer.permissions);

const GRANT = '5f0c9a4e-3b1d-4c2a-9e8f-7a6b5c4d3e2f';
const onCareTeam: Relationship = { careTeam: ['attending'], breakGlassGrantId: null };
const nursingTeam: Relationship = { careTeam: ['nursing'], breakGlassGrantId: null };
const viaBreakGlass: Relationship = { careTeam: null, breakGlassGrantId: GRANT };
const both: Relationship = { careTeam: ['nursing'], breakGlassGrantId: GRANT };
const none: Relationship = { careTeam: null, breakGlassGrantId: null };

describe('decide', () => {
  describe('no permission', () => {
    it('refuses a section the role may not read, whatever ties the viewer to the patient', () => {
      for (const relationship of [onCareTeam, viaBreakGlass, both, none]) {
        expect(decide(nurse, relationship, 'read', 'insurance')).toEqual({ allowed: false, reason: 'no_permission' });
        expect(decide(billing, relationship, 'read', 'progress_notes')).toEqual({ allowed: false, reason: 'no_permission' });
      }
    });

    it('keeps reading and writing apart: reading a section does not allow writing it', () => {
      expect(decide(physician, onCareTeam, 'read', 'vitals')).toMatchObject({ allowed: true });
      expect(decide(physician, onCareTeam, 'write', 'vitals')).toEqual({ allowed: false, reason: 'no_permission' });
      expect(decide(nurse, onCareTeam, 'write', 'progress_notes')).toEqual({ allowed: false, reason: 'no_permission' });
    });

    it('denies by default: no permissions open no section for any action', () => {
      for (const section of chartSections) {
        for (const action of ['read', 'write'] as const) {
          expect(decide(as({}), onCareTeam, action, section)).toEqual({ allowed: false, reason: 'no_permission' });
          expect(decide(admin, onCareTeam, action, section)).toEqual({ allowed: false, reason: 'no_permission' });
          expect(decide(privacy, viaBreakGlass, action, section)).toEqual({ allowed: false, reason: 'no_permission' });
        }
      }
    });

    it('is reported before a missing relationship, so the refusal names the real obstacle', () => {
      expect(decide(nurse, none, 'read', 'insurance')).toEqual({ allowed: false, reason: 'no_permission' });
    });
  });

  describe('care team', () => {
    it('opens every section the role allows, through the care team', () => {
      for (const section of chartSections) {
        expect(decide(physician, onCareTeam, 'read', section)).toEqual({ allowed: true, via: 'care_team', breakGlassGrantId: null });
      }
      expect(decide(nurse, nursingTeam, 'write', 'nursing_notes')).toEqual({ allowed: true, via: 'care_team', breakGlassGrantId: null });
    });

    it('is preferred to a break-glass grant held at the same time, which is then not used', () => {
      expect(decide(nurse, both, 'read', 'vitals')).toEqual({ allowed: true, via: 'care_team', breakGlassGrantId: null });
    });
  });

  describe('relationship lens', () => {
    const billingAndNurse = as(unionPermissions([defaultRoles.billing.permissions, defaultRoles.nurse.permissions]));
    const billingTeam: Relationship = { careTeam: ['billing'], breakGlassGrantId: null };

    it('opens only what both the role and the relationship allow: a clerk who becomes a nurse reads nothing clinical through billing rows', () => {
      for (const section of ['allergies', 'medications', 'problems', 'vitals', 'nursing_notes'] as const) {
        expect(decide(billingAndNurse, billingTeam, 'read', section), section).toEqual({ allowed: false, reason: 'no_permission' });
      }
      expect(decide(billingAndNurse, billingTeam, 'write', 'vitals')).toEqual({ allowed: false, reason: 'no_permission' });
      for (const section of ['demographics', 'insurance', 'encounters'] as const) {
        expect(decide(billingAndNurse, billingTeam, 'read', section), section).toEqual({ allowed: true, via: 'care_team', breakGlassGrantId: null });
      }
    });

    it('narrows a broad role to the relationship: a physician on a nursing row writes no progress note', () => {
      expect(decide(physician, nursingTeam, 'read', 'insurance')).toEqual({ allowed: false, reason: 'no_permission' });
      expect(decide(physician, nursingTeam, 'write', 'progress_notes')).toEqual({ allowed: false, reason: 'no_permission' });
      expect(decide(physician, nursingTeam, 'read', 'vitals')).toMatchObject({ allowed: true, via: 'care_team' });
    });

    it('unions the lenses of several rows, and a relationship name the code does not know opens nothing', () => {
      const twoRows: Relationship = { careTeam: ['billing', 'nursing'], breakGlassGrantId: null };
      expect(decide(billingAndNurse, twoRows, 'read', 'nursing_notes')).toMatchObject({ allowed: true, via: 'care_team' });
      expect(decide(billingAndNurse, twoRows, 'read', 'insurance')).toMatchObject({ allowed: true, via: 'care_team' });
      expect(decide(physician, { careTeam: ['owner'], breakGlassGrantId: null }, 'read', 'demographics')).toEqual({ allowed: false, reason: 'no_permission' });
    });

    it('leaves a break-glass grant to the role lens, as before', () => {
      expect(decide(billingAndNurse, { careTeam: ['billing'], breakGlassGrantId: GRANT }, 'read', 'vitals')).toEqual({
        allowed: true,
        via: 'break_glass',
        breakGlassGrantId: GRANT,
      });
    });
  });

  describe('break-glass', () => {
    it('opens what the role allows through an active grant, naming the grant', () => {
      expect(decide(physician, viaBreakGlass, 'read', 'allergies')).toEqual({ allowed: true, via: 'break_glass', breakGlassGrantId: GRANT });
      expect(decide(physician, viaBreakGlass, 'write', 'medications')).toEqual({ allowed: true, via: 'break_glass', breakGlassGrantId: GRANT });
    });

    it('never widens the role: a grant does not open a section the role cannot see', () => {
      expect(decide(nurse, viaBreakGlass, 'read', 'encounters')).toEqual({ allowed: false, reason: 'no_permission' });
    });
  });

  describe('no relationship', () => {
    it('refuses a permitted section to a viewer with neither a care-team row nor a grant', () => {
      expect(decide(physician, none, 'read', 'demographics')).toEqual({ allowed: false, reason: 'no_relationship' });
      expect(decide(nurse, none, 'write', 'vitals')).toEqual({ allowed: false, reason: 'no_relationship' });
      expect(decide(billing, none, 'read', 'encounters')).toEqual({ allowed: false, reason: 'no_relationship' });
    });
  });

  describe('permission override', () => {
    it('lets billing set an encounter’s billing status and nothing else of the encounter', () => {
      const billingTeam: Relationship = { careTeam: ['billing'], breakGlassGrantId: null };
      expect(decide(billing, billingTeam, 'write', 'encounters')).toEqual({ allowed: false, reason: 'no_permission' });
      expect(decide(billing, billingTeam, 'write', 'encounters', chartPermission.billingStatus)).toEqual({
        allowed: true,
        via: 'care_team',
        breakGlassGrantId: null,
      });
    });

    it('is checked instead of the section permission, not as well as it', () => {
      // The physician may not write encounters nor their billing status.
      expect(decide(physician, onCareTeam, 'write', 'encounters', chartPermission.billingStatus)).toEqual({ allowed: false, reason: 'no_permission' });
      // A read pattern for the whole chart covers the field too.
      expect(decide(physician, onCareTeam, 'read', 'encounters', chartPermission.billingStatus)).toMatchObject({ allowed: true });
      // Holding the override alone does not open the rest of the section.
      expect(decide(as({ ehr_write: [chartPermission.billingStatus] }), onCareTeam, 'write', 'encounters')).toEqual({ allowed: false, reason: 'no_permission' });
    });

    it('still needs a relationship', () => {
      expect(decide(billing, none, 'write', 'encounters', chartPermission.billingStatus)).toEqual({ allowed: false, reason: 'no_relationship' });
    });
  });
});

describe('the other category checks', () => {
  it('offers break-glass only to roles holding the emergency permission', () => {
    expect(canBreakGlass(physician)).toBe(true);
    expect(canBreakGlass(nurse)).toBe(true);
    expect(canBreakGlass(billing)).toBe(false);
    expect(canBreakGlass(admin)).toBe(false);
    expect(canBreakGlass(as({ ehr_read: ['*'] }))).toBe(false);
  });

  it('reads admin and audit permissions from their own categories', () => {
    expect(hasAdminPermission(admin, 'users.disable')).toBe(true);
    expect(hasAdminPermission(privacy, 'users.disable')).toBe(false);
    expect(hasAuditPermission(privacy, 'audit.export')).toBe(true);
    expect(hasAuditPermission(admin, 'audit.export')).toBe(false);
  });
});
