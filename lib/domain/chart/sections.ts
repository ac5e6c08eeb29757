import 'server-only';
import { z } from 'zod';

/**
 * The shape of each sealed PHI value. Writes are validated against these before sealing, and
 * the PHI map below lists their field names so log redaction knows what to hide.
 */
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'Use a date like 2026-01-31.');
const shortText = (max: number) => z.string().trim().min(1).max(max);

export const demographicsBody = z.object({
  mrn: shortText(32),
  givenName: shortText(100),
  familyName: shortText(100),
  dateOfBirth: isoDate,
  sex: z.enum(['female', 'male', 'other', 'unknown']),
  address: z.object({ line1: shortText(200), city: shortText(100), state: shortText(50), postalCode: shortText(20) }),
  phone: shortText(40),
  email: z.string().max(200).optional(),
});
export const insuranceBody = z.object({
  payer: shortText(100),
  planName: shortText(100),
  memberId: shortText(50),
  groupNumber: shortText(50),
});
export const allergyBody = z.object({
  substance: shortText(100),
  reaction: shortText(200),
  severity: z.enum(['mild', 'moderate', 'severe']),
  notedOn: isoDate,
});
export const medicationBody = z.object({
  name: shortText(100),
  dose: shortText(50),
  route: shortText(30),
  frequency: shortText(50),
  startedOn: isoDate,
  status: z.enum(['active', 'stopped']),
});
export const problemBody = z.object({
  description: shortText(200),
  icd10: z.string().trim().regex(/^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$/, 'Use an ICD-10 code like E11.9.'),
  onsetOn: isoDate,
  status: z.enum(['active', 'resolved']),
});
const measure = (min: number, max: number) => z.coerce.number().min(min).max(max);
export const vitalsBody = z.object({
  takenAt: z.string().datetime({ offset: true }),
  heartRate: measure(20, 250),
  systolic: measure(50, 260),
  diastolic: measure(20, 160),
  temperatureC: measure(30, 45),
  respiratoryRate: measure(4, 60),
  spo2: measure(50, 100),
});
export const noteBody = z.object({
  writtenAt: z.string().datetime({ offset: true }),
  author: shortText(200),
  text: shortText(10_000),
});
export const encounterBody = z.object({
  date: isoDate,
  type: shortText(100),
  provider: shortText(200),
  cpt: z.array(z.object({ code: z.string().regex(/^\d{4}[0-9A-Z]$/), description: shortText(200), charge: z.number().nonnegative() })).max(20),
  icd10: z.array(z.string()).max(20),
});

export type Demographics = z.infer<typeof demographicsBody>;
export type Insurance = z.infer<typeof insuranceBody>;
export type Allergy = z.infer<typeof allergyBody>;
export type Medication = z.infer<typeof medicationBody>;
export type Problem = z.infer<typeof problemBody>;
export type Vitals = z.infer<typeof vitalsBody>;
export type Note = z.infer<typeof noteBody>;
export type Encounter = z.infer<typeof encounterBody>;

export const billingStatuses = ['unbilled', 'submitted', 'paid', 'denied'] as const;
export type BillingStatus = (typeof billingStatuses)[number];
