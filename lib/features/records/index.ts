import 'server-only';
// Every PHI read and write comes through here: turn on access monitoring (lib/features/monitor) first.
import '@/lib/features/monitor/register';

export { getChart, type ChartDenied, type ChartEntry, type ChartView, type SectionView } from '@/lib/features/records/chart';
export { listPatients, classifyQuery, PAGE_SIZE, type PatientList, type PatientListRow } from '@/lib/features/records/patients';
export { addEntry, updateEntry, setBillingStatus } from '@/lib/features/records/writes';
export type { WriteResult } from '@/lib/features/records/errors';
export { entrySections, type EntrySection } from '@/lib/features/records/tables';
export { findPatientByMrn, patientReference, mrnQuerySchema, type PatientReference } from '@/lib/features/records/lookup';
