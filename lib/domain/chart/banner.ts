import 'server-only';
import type { Allergy, Demographics } from '@/lib/domain/chart/sections';

/**
 * What the patient banner at the top of every chart shows: who this is (name, age and sex, date
 * of birth, MRN) and, for a role that may read allergies, the allergies — severe ones first, so
 * the one that matters cannot be missed. Built from the chart's view model only: a section the
 * viewer may not read is absent there, so it is absent here.
 */
export interface PatientBanner {
  identity: { name: string; age: string; sex: string; dateOfBirth: string; mrn: string } | null;
  allergies:
    | { status: 'ok'; items: Array<Pick<Allergy, 'substance' | 'reaction' | 'severity'>>; severe: boolean }
    | { status: 'unavailable' | 'erased' }
    /** The viewer's role may not read allergies: nothing is said about them. */
    | null;
}

const severityOrder: Record<Allergy['severity'], number> = { severe: 0, moderate: 1, mild: 2 };

/** Age as a clinician says it: whole years, or months under two, or days under two months. */
export function ageOn(dateOfBirth: string, today: Date): string {
  const [y, m, d] = dateOfBirth.split('-').map(Number) as [number, number, number];
  const ty = today.getUTCFullYear();
  const tm = today.getUTCMonth() + 1;
  const td = today.getUTCDate();
  let months = (ty - y) * 12 + (tm - m) - (td < d ? 1 : 0);
  if (months < 0) months = 0;
  if (months >= 24) return `${Math.floor(months / 12)} y`;
  if (months >= 2) return `${months} mo`;
  const days = Math.max(0, Math.floor((today.getTime() - Date.UTC(y, m - 1, d)) / 86_400_000));
  return `${days} d`;
}

export function patientBanner(
  demographics: { status: 'ok'; value: Demographics } | { status: string } | null,
  allergies: { status: 'ok'; entries: Array<{ body: Record<string, unknown> }> } | { status: 'unavailable' | 'erased' } | undefined,
  today: Date,
): PatientBanner {
  const d = demographics?.status === 'ok' ? (demographics as { value: Demographics }).value : null;
  const identity = d
    ? { name: `${d.familyName}, ${d.givenName}`, age: ageOn(d.dateOfBirth, today), sex: d.sex, dateOfBirth: d.dateOfBirth, mrn: d.mrn }
    : null;
  if (!allergies) return { identity, allergies: null };
  if (allergies.status !== 'ok') return { identity, allergies: { status: allergies.status } };
  const items = allergies.entries
    .map((e) => e.body as unknown as Allergy)
    .map((a) => ({ substance: a.substance, reaction: a.reaction, severity: a.severity }))
    .sort((a, b) => severityOrder[a.severity] - severityOrder[b.severity] || a.substance.localeCompare(b.substance));
  return { identity, allergies: { status: 'ok', items, severe: items.some((a) => a.severity === 'severe') } };
}
