import 'server-only';
import { z } from 'zod';
import type { Viewer } from '@/lib/domain/access/viewer';
import { now as clockNow } from '@/lib/platform/clock';
import type { EntrySection } from '@/lib/features/records/tables';

/**
 * Turns a submitted chart form into the body of a new entry. Fields the server owns (author,
 * timestamps) are set here, never taken from the form.
 */
export function entryFromForm(section: EntrySection, form: FormData, viewer: Viewer): Record<string, unknown> {
  const field = (name: string) => {
    const value = form.get(name);
    return typeof value === 'string' ? value : undefined;
  };
  const stamp = clockNow().toISOString();
  const today = stamp.slice(0, 10);
  switch (section) {
    case 'progress_notes':
    case 'nursing_notes':
      return { writtenAt: stamp, author: viewer.displayName, text: field('text') };
    case 'vitals':
      return {
        takenAt: stamp,
        heartRate: field('heartRate'),
        systolic: field('systolic'),
        diastolic: field('diastolic'),
        temperatureC: field('temperatureC'),
        respiratoryRate: field('respiratoryRate'),
        spo2: field('spo2'),
      };
    case 'allergies':
      return { substance: field('substance'), reaction: field('reaction'), severity: field('severity'), notedOn: today };
    case 'medications':
      return { name: field('name'), dose: field('dose'), route: field('route'), frequency: field('frequency'), startedOn: today, status: 'active' };
    case 'problems':
      return { description: field('description'), icd10: field('icd10')?.toUpperCase(), onsetOn: field('onsetOn') || today, status: 'active' };
    case 'encounters':
      return {};
  }
}

/** Status changes offered on existing entries (the only in-place edits clinicians make here). */
export const statusChanges = {
  medications: z.object({ status: z.enum(['active', 'stopped']) }),
  problems: z.object({ status: z.enum(['active', 'resolved']) }),
} as const;
export type StatusSection = keyof typeof statusChanges;
