import 'server-only';

export { getChart, type ChartDenied, type ChartEntry, type ChartView, type SectionView } from './chart';
export { listPatients, classifyQuery, PAGE_SIZE, type PatientList, type PatientListRow } from './patients';
export { addEntry, updateEntry, setBillingStatus } from './writes';
export type { WriteResult } from './errors';
export { entrySections, type EntrySection } from './tables';
