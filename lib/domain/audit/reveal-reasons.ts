import 'server-only';
import { z } from 'zod';

/**
 * Why a privacy officer opens sealed patient data during a review (a change's recorded values, a
 * break-glass grant's justification and MRN): one fixed list for every reveal, so the stated
 * reason is recorded in the trail and shown in the patient's accounting of disclosures without
 * free text that could itself hold PHI.
 */
export const revealReasons = {
  complaint: 'Investigating a patient’s complaint',
  incident: 'Investigating a monitoring incident',
  break_glass_review: 'Reviewing an emergency access',
  legal_request: 'A legal or regulatory request',
  patient_request: 'The patient asked for their record of changes',
} as const;
export type RevealReason = keyof typeof revealReasons;

/** A reveal's reason field; anything outside the list (or nothing) is refused with `message`. */
export const revealReason = (message: string) => z.enum(Object.keys(revealReasons) as [RevealReason, ...RevealReason[]], { message });

/** The label of a recorded reason, or null for a value that is no reveal reason. */
export function revealReasonLabel(value: unknown): string | null {
  return typeof value === 'string' && Object.hasOwn(revealReasons, value) ? revealReasons[value as RevealReason] : null;
}
