import { describe, expect, it } from 'vitest';
import { justificationMessages as m, justificationProblem, justificationSchema, normaliseJustification } from '@/lib/domain/break-glass/justification';

describe('break-glass justification', () => {
  it.each([
    'Patient unresponsive in ED resus 2, BP 70/40; attending unreachable, need medication list.',
    'Covering for Dr. Lee overnight on 4 West; she asked me to review this patient’s allergies.',
    'Unconscious after a fall, no family present. Checking anticoagulants before CT.',
    'Sepsis alert: BP <80 & HR >130; treating team in theatre, need problem list now.',
    'Code blue on ward 7, need allergies and meds',
  ])('accepts a real clinical reason: %s', (text) => {
    expect(justificationProblem(text)).toBeNull();
  });

  it.each([
    ['', m.empty],
    ['      \n\t  ', m.empty],
    ['Emergency', m.tooShort],
    ['need chart now', m.tooShort],
    ['x'.repeat(1001), m.tooLong],
    [`${'Patient unresponsive in resus, need the allergy list now. '.repeat(20)}`, m.tooLong],
    ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaa', m.filler],
    ['aaaa bbbb cccc dddd eeee ffff gggg', m.filler],
    ['asdf asdf asdf asdf asdf asdf', m.filler],
    ['asdfgh qwerty zxcvbn asdfgh', m.filler],
    ['test test test test test test test', m.filler],
    ['emergency emergency emergency emergency', m.filler],
    ['lorem ipsum dolor sit amet consectetur', m.filler],
    ['abcabcabcabcabcabcabcabcabc', m.filler],
    ['1234567890 1234567890 1234567890', m.filler],
    ['xkcd qwrt zxcv bnmk plkj hgfd', m.filler],
    ['patient emergency patient emergency patient emergency', m.filler],
    ['<script>alert(1)</script> patient unresponsive in resus', m.markup],
    ['Patient unresponsive <img src=x onerror=alert(1)> need meds', m.markup],
    ['Unresponsive, need allergies <!-- hidden --> urgently now', m.markup],
    ['Unresponsive </textarea><b>bold</b> need allergies', m.markup],
  ])('rejects %j', (text, message) => {
    expect(justificationProblem(text)).toBe(message);
  });

  it('stores whitespace-normalised text and reports the first problem through zod', () => {
    expect(normaliseJustification('  Unconscious \n\n after a   fall  ')).toBe('Unconscious after a fall');
    const ok = justificationSchema.safeParse('  Unconscious after a fall,\n no family present; checking anticoagulants.  ');
    expect(ok.success && ok.data).toBe('Unconscious after a fall, no family present; checking anticoagulants.');
    const bad = justificationSchema.safeParse('asdf asdf asdf asdf asdf');
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toBe(m.filler);
    expect(justificationSchema.safeParse(undefined).error?.issues[0]?.message).toBe(m.empty);
  });
});
