import { describe, expect, it } from 'vitest';
import { parseEmergencyQuery } from './emergency-query';

describe('parseEmergencyQuery', () => {
  it('accepts an MRN as printed on a wristband', () => {
    expect(parseEmergencyQuery('40000022')).toEqual({ ok: true, query: { kind: 'mrn', mrn: '40000022' } });
    expect(parseEmergencyQuery(' MRN: 40000022 ')).toEqual({ ok: true, query: { kind: 'mrn', mrn: '40000022' } });
  });

  it('accepts a last name with a date of birth, in either order', () => {
    const expected = { ok: true, query: { kind: 'last_name_dob', lastName: "O'Donnell", dateOfBirth: '1961-04-02' } };
    expect(parseEmergencyQuery("O'Donnell 1961-04-02")).toEqual(expected);
    expect(parseEmergencyQuery("O'Donnell, 1961-04-02")).toEqual(expected);
    expect(parseEmergencyQuery("1961-04-02 O'Donnell")).toEqual(expected);
    expect(parseEmergencyQuery('Dvořák 2001-12-31')).toMatchObject({ ok: true, query: { lastName: 'Dvořák' } });
  });

  it.each([
    ['a last name alone', 'Nakamura'],
    ['a prefix', 'Nak'],
    ['a date of birth alone', '1961-04-02'],
    ['a partial MRN', '4000'],
    ['a wildcard', 'Na% 1961-04-02'],
    ['one letter and a date', 'N 1961-04-02'],
    ['a date that does not exist', 'Nakamura 1961-02-30'],
  ])('refuses %s as too broad', (_, q) => {
    expect(parseEmergencyQuery(q)).toEqual({ ok: false, refusal: 'too_broad' });
  });

  it('says an empty query is empty', () => {
    expect(parseEmergencyQuery('   ')).toEqual({ ok: false, refusal: 'empty' });
  });
});
