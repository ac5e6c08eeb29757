import 'server-only';
import { z } from 'zod';

/** Why a clinician outside the care team needs the chart now (the prompt's list, in order). */
export const breakGlassReasons = ['emergency_treatment', 'unable_to_consent', 'covering_clinician', 'other'] as const;
export type BreakGlassReason = (typeof breakGlassReasons)[number];

export const reasonLabels: Record<BreakGlassReason, string> = {
  emergency_treatment: 'Emergency treatment',
  unable_to_consent: 'Patient unable to consent',
  covering_clinician: 'Covering for the treating clinician',
  other: 'Other',
};

export const JUSTIFICATION_MIN = 20;
export const JUSTIFICATION_MAX = 1000;

export const justificationMessages = {
  empty: 'Enter a justification: say why you need this patient’s chart now.',
  tooShort: `The justification is too short. Write at least ${JUSTIFICATION_MIN} characters saying why you need access.`,
  tooLong: `The justification is too long. Keep it under ${JUSTIFICATION_MAX} characters.`,
  markup: 'Write the justification as plain text, without HTML or script tags.',
  filler: 'The justification looks like filler text. Describe the clinical situation in your own words.',
} as const;

/** Runs of keys along a keyboard row ("asdf", "qwerty") are mashing, not words. */
const KEYBOARD_ROWS = ['qwertyuiop', 'asdfghjkl', 'zxcvbnm', '1234567890'];
const PLACEHOLDER_WORDS = new Set(['test', 'testing', 'lorem', 'ipsum', 'dolor', 'blah', 'foo', 'bar', 'baz', 'xxx', 'na', 'tbd', 'todo', 'abc', 'abcd', 'etc']);
/** Something that a browser would parse as the start of a tag, comment or processing instruction. */
const MARKUP = /<\s*[a-z!/?]/i;

/** Collapses whitespace so "a   b\n\n c" and "a b c" are judged (and stored) the same. */
export function normaliseJustification(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function isKeyboardMash(word: string): boolean {
  return word.length >= 4 && KEYBOARD_ROWS.some((row) => row.includes(word) || row.includes([...word].reverse().join('')));
}

/**
 * Filler that satisfies a length rule without saying anything: repeated characters ("aaaa"),
 * repeated words ("test test test"), keyboard runs ("asdf asdf"), placeholders ("lorem
 * ipsum"), too few different letters, or strings of consonants. A real sentence, even a terse
 * clinical one ("Unresponsive in ED, BP 70/40, no team reachable"), passes every check.
 */
export function looksLikeFiller(text: string): boolean {
  const lower = text.toLowerCase();
  if (/([a-z])\1{3,}/.test(lower)) return true;
  if (new Set(lower.replace(/[^a-z]/g, '')).size < 8) return true;
  const words = lower.match(/[a-z0-9]+/g) ?? [];
  if (words.length < 4) return true;
  if (new Set(words).size / words.length < 0.5) return true;
  const junk = words.filter((w) => PLACEHOLDER_WORDS.has(w) || isKeyboardMash(w)).length;
  if (junk / words.length >= 0.5) return true;
  const long = words.filter((w) => w.length >= 4 && /^[a-z]+$/.test(w));
  const noVowels = long.filter((w) => !/[aeiouy]/.test(w)).length;
  return long.length > 0 && noVowels / long.length >= 0.5;
}

/** The first problem with a justification, as a sentence for the form, or null when it is acceptable. */
export function justificationProblem(raw: string): string | null {
  const text = normaliseJustification(raw);
  if (text.length === 0) return justificationMessages.empty;
  if (text.length > JUSTIFICATION_MAX) return justificationMessages.tooLong;
  if (MARKUP.test(text)) return justificationMessages.markup;
  if (text.length < JUSTIFICATION_MIN) return justificationMessages.tooShort;
  if (looksLikeFiller(text)) return justificationMessages.filler;
  return null;
}

export const justificationSchema = z
  .string({ error: justificationMessages.empty })
  .max(JUSTIFICATION_MAX * 4, justificationMessages.tooLong)
  .transform(normaliseJustification)
  .superRefine((text, ctx) => {
    const problem = justificationProblem(text);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export const reasonCodeSchema = z.enum(breakGlassReasons, { error: 'Choose a reason from the list.' });
