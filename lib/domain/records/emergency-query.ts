import 'server-only';

/**
 * What an emergency lookup accepts: exact identifiers only, so a clinician at a bedside can find
 * the patient on a wristband but nobody can browse the hospital. An MRN, or a last name together
 * with a date of birth ("Nakamura 1961-04-02"); a name alone, a prefix or a date alone is too
 * broad to be searched outside the viewer's own patients.
 */
export type EmergencyQuery =
  | { kind: 'mrn'; mrn: string }
  | { kind: 'last_name_dob'; lastName: string; dateOfBirth: string };

export type EmergencyQueryRefusal = 'empty' | 'too_broad';

export const emergencyQueryMessages: Record<EmergencyQueryRefusal, string> = {
  empty: 'Enter an MRN, or a last name and date of birth.',
  too_broad:
    'Patients outside your care team are found only by their exact MRN, or by last name together with date of birth (YYYY-MM-DD).',
};

const MRN = /^(?:mrn[\s:#-]*)?([a-z]{0,3}-?\d{5,})$/i;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const NAME_THEN_DATE = /^(.+?)[\s,]+(\d{4}-\d{2}-\d{2})$/;
const DATE_THEN_NAME = /^(\d{4}-\d{2}-\d{2})[\s,]+(.+)$/;

/** A calendar date that exists (2026-02-30 does not). */
function isRealDate(text: string): boolean {
  const m = DATE.exec(text);
  if (!m) return false;
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return date.toISOString().slice(0, 10) === text;
}

export function parseEmergencyQuery(raw: string): { ok: true; query: EmergencyQuery } | { ok: false; refusal: EmergencyQueryRefusal } {
  const q = raw.trim().replace(/\s+/g, ' ');
  if (!q) return { ok: false, refusal: 'empty' };
  const mrn = MRN.exec(q);
  if (mrn) return { ok: true, query: { kind: 'mrn', mrn: mrn[1]! } };
  const nameFirst = NAME_THEN_DATE.exec(q);
  const dateFirst = nameFirst ? null : DATE_THEN_NAME.exec(q);
  const lastName = (nameFirst?.[1] ?? dateFirst?.[2])?.replace(/,$/, '').trim();
  const dateOfBirth = nameFirst?.[2] ?? dateFirst?.[1];
  // A whole last name: letters (any script), apostrophes, hyphens and inner spaces; no wildcards.
  if (lastName && dateOfBirth && isRealDate(dateOfBirth) && lastName.length >= 2 && /^\p{L}[\p{L}\p{M}' -]*$/u.test(lastName)) {
    return { ok: true, query: { kind: 'last_name_dob', lastName, dateOfBirth } };
  }
  return { ok: false, refusal: 'too_broad' };
}
