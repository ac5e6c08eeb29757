import 'server-only';
import { chartSectionTables } from '@/db/schema';
import type { ChartSection } from '@/lib/domain/access/roles';
import {
  allergyBody,
  encounterBody,
  medicationBody,
  noteBody,
  problemBody,
  vitalsBody,
} from '@/lib/domain/chart/sections';

/** Sections stored one row per entry (demographics and insurance live on the patient row). */
export const entrySections = {
  allergies: { table: chartSectionTables.allergies, body: allergyBody },
  medications: { table: chartSectionTables.medications, body: medicationBody },
  problems: { table: chartSectionTables.problems, body: problemBody },
  vitals: { table: chartSectionTables.vitals, body: vitalsBody },
  progress_notes: { table: chartSectionTables.progress_notes, body: noteBody },
  nursing_notes: { table: chartSectionTables.nursing_notes, body: noteBody },
  encounters: { table: chartSectionTables.encounters, body: encounterBody },
} as const;
export type EntrySection = keyof typeof entrySections;

export function isEntrySection(section: ChartSection): section is EntrySection {
  return section in entrySections;
}

/** How many rows of each section a chart shows (newest first). */
export const sectionRowLimit: Record<EntrySection, number> = {
  allergies: 50,
  medications: 50,
  problems: 50,
  vitals: 20,
  progress_notes: 20,
  nursing_notes: 20,
  encounters: 30,
};
