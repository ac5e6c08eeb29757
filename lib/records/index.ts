import 'server-only';
// Every PHI read and write comes through here: turn on access monitoring (lib/monitor) first.
import '@/lib/monitor/register';

export { getChart, type ChartDenied, type ChartEntry, type ChartView, type SectionView } from './chart';
export { listPatients, classifyQuery, PAGE_SIZE, type PatientList, type PatientListRow } from './patients';
export { addEntry, updateEntry, setBillingStatus } from './writes';
export type { WriteResult } from './errors';
export { entrySections, type EntrySection } from './tables';
export { findPatientByMrn, patientReference, mrnQuerySchema, type PatientReference } from './lookup';
