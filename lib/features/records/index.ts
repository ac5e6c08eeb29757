import 'server-only';

export { getChart, readChart, chartDeniedMessage, type ChartEntry, type ChartRefusal, type ChartView, type SectionView } from '@/lib/features/records/chart';
export { listPatients, classifyQuery, PAGE_SIZE, type PatientList, type PatientListRow } from '@/lib/features/records/patients';
export { addEntry, updateEntry, setBillingStatus } from '@/lib/features/records/writes';
export { entrySections, type EntrySection } from '@/lib/features/records/tables';
export { findPatientByMrn, patientReference, mrnQuerySchema, type PatientReference } from '@/lib/features/records/lookup';
export { emergencyLookup, EMERGENCY_LOOKUP_LIMIT, type EmergencyLookup, type RestrictedRow } from '@/lib/features/records/emergency-lookup';
