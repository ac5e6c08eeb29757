import { describe, expect, it } from 'vitest';
import { ageOn, patientBanner } from './banner';
import type { Demographics } from './sections';

const today = new Date('2026-12-01T10:00:00Z');
const demographics: Demographics = {
  mrn: '40000022', givenName: 'Mei', familyName: 'Nakamura', dateOfBirth: '1961-12-02', sex: 'female',
  address: { line1: '1 Elm Row', city: 'Madison', state: 'WI', postalCode: '53701' }, phone: '555-100-0000', email: 'mei@example.test',
};
const allergy = (substance: string, severity: string) => ({ body: { substance, reaction: 'Hives', severity, notedOn: '2020-01-01' } });

describe('ageOn', () => {
  it('counts whole years, turning on the birthday itself', () => {
    expect(ageOn('1961-12-02', today)).toBe('64 y');
    expect(ageOn('1961-12-01', today)).toBe('65 y');
  });
  it('says months under two years and days under two months', () => {
    expect(ageOn('2025-06-15', today)).toBe('17 mo');
    expect(ageOn('2026-11-20', today)).toBe('11 d');
  });
});

describe('patientBanner', () => {
  it('puts severe allergies first and says so', () => {
    const banner = patientBanner({ status: 'ok', value: demographics }, { status: 'ok', entries: [allergy('Latex', 'mild'), allergy('Peanuts', 'severe')] }, today);
    expect(banner.identity).toEqual({ name: 'Nakamura, Mei', age: '64 y', sex: 'female', dateOfBirth: '1961-12-02', mrn: '40000022' });
    expect(banner.allergies).toMatchObject({ status: 'ok', severe: true, items: [{ substance: 'Peanuts' }, { substance: 'Latex' }] });
  });
  it('says nothing about allergies the viewer may not read, and no known allergies when there are none', () => {
    expect(patientBanner({ status: 'ok', value: demographics }, undefined, today).allergies).toBeNull();
    expect(patientBanner(null, { status: 'ok', entries: [] }, today)).toEqual({ identity: null, allergies: { status: 'ok', items: [], severe: false } });
    expect(patientBanner(null, { status: 'erased' }, today).allergies).toEqual({ status: 'erased' });
  });
  it('carries no demographic beyond the five it shows', () => {
    const text = JSON.stringify(patientBanner({ status: 'ok', value: demographics }, undefined, today));
    for (const hidden of ['555-100-0000', 'Elm Row', 'mei@example.test']) expect(text).not.toContain(hidden);
  });
});
