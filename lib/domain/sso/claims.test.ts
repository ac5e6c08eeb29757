import { describe, expect, it } from 'vitest';
import { assertsMultiFactor, groupsFrom, MAX_GROUPS, rolesForGroups } from '@/lib/domain/sso/claims';

describe('what an ID token says about the sign-in', () => {
  it.each([
    [{ amr: ['pwd', 'mfa'] }, true], // Entra ID, Okta
    [{ amr: ['http://schemas.microsoft.com/claims/multipleauthn'] }, true], // ADFS
    [{ amr: ['pwd', 'otp'] }, true],
    [{ amr: ['hwk', 'pin'] }, true],
    [{ amr: ['pwd'] }, false],
    [{ amr: ['otp'] }, false], // one factor, whatever it is
    [{ amr: 'mfa' }, false], // not the array the spec requires
    [{}, false],
    [{ acr: 'urn:hospital:loa:mfa' }, true],
    [{ acr: 'urn:hospital:loa:pwd' }, false],
  ])('%j is multi-factor: %s', (claims, expected) => {
    expect(assertsMultiFactor(claims, ['urn:hospital:loa:mfa'])).toBe(expected);
  });

  it('reads the groups claim as a list, a single string as one group, and refuses what it cannot trust', () => {
    expect(groupsFrom({ groups: ['b', 'a', 'a'] }, 'groups')).toEqual(['a', 'b']);
    expect(groupsFrom({ roles: 'ward-7' }, 'roles')).toEqual(['ward-7']);
    expect(groupsFrom({}, 'groups')).toEqual([]);
    expect(groupsFrom({ groups: [1, 2] }, 'groups')).toBeUndefined();
    expect(groupsFrom({ groups: [''] }, 'groups')).toBeUndefined();
    expect(groupsFrom({ groups: Array.from({ length: MAX_GROUPS + 1 }, (_, i) => `g${i}`) }, 'groups')).toBeUndefined();
  });

  it('maps groups to roles: every role any of the groups grants, once', () => {
    const mappings = [
      { claimValue: 'physicians', roleName: 'physician' },
      { claimValue: 'er', roleName: 'physician' },
      { claimValue: 'er', roleName: 'nurse' },
      { claimValue: 'it', roleName: 'admin' },
    ];
    expect(rolesForGroups(mappings, ['physicians', 'er', 'cafeteria'])).toEqual(['nurse', 'physician']);
    expect(rolesForGroups(mappings, ['cafeteria'])).toEqual([]);
  });
});
