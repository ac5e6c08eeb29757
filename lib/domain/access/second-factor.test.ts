import { describe, expect, it } from 'vitest';
import { needsSecondFactor } from '@/lib/domain/access/second-factor';
import { defaultRoles } from '@/lib/domain/access/roles';

describe('who always needs a second factor', () => {
  it('is every holder of an admin or audit permission, and no clinician', () => {
    expect(needsSecondFactor(defaultRoles.admin.permissions)).toBe(true);
    expect(needsSecondFactor(defaultRoles.privacy_officer.permissions)).toBe(true);
    expect(needsSecondFactor(defaultRoles.physician.permissions)).toBe(false);
    expect(needsSecondFactor(defaultRoles.nurse.permissions)).toBe(false);
    expect(needsSecondFactor({ ehr_read: ['patient.*'], admin: ['users.read'] })).toBe(true);
  });
});
