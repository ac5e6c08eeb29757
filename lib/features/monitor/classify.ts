import 'server-only';
import { auditActions, isPhiAccess } from '@/lib/domain/audit/actions';
import type { AuditEvent } from '@/lib/platform/audit';

/**
 * Which audited events count as a PHI access for monitoring: those the action registry
 * (lib/domain/audit/actions.ts) flags `phi`, namely
 * - `chart.view` (one access per chart) and `chart.write` (a write to no known section);
 * - `patient.list` and `patient.search` — one access per page of results (each shows a page
 *   of names, dates of birth and MRNs); `patient.lookup` (an MRN or id resolved);
 *   `patient.emergency_lookup` (restricted rows outside the care team, also counted on their own);
 * - `break_glass.identity_view` — the emergency-access prompt's name, date of birth and MRN
 *   of a patient outside the user's care team;
 * - section writes `<section>.create|update|write` and `encounters.billing_status`.
 * An `allowed` outcome is an access; `denied` is a refusal (the denial-burst rule). Sign-in,
 * session, admin, break-glass bookkeeping and the monitor's own entries never count, which is
 * also what keeps the listener from reacting to the entries it writes itself.
 */
export interface AccessFacts {
  kind: 'access' | 'denial';
  userId: string;
  patientId: string | null;
  /** Reached without a care-team relationship: under break-glass, or refused for having none. */
  outsideCareTeam: boolean;
  /** An emergency lookup by exact identifiers, which has a rule of its own. */
  emergencyLookup: boolean;
}

/** Takes any string: the listener also reads back names stored in the trail. */
export function isPhiAction(action: string): boolean {
  return isPhiAccess(action);
}

export function classifyAccess(event: Pick<AuditEvent, 'actor' | 'action' | 'outcome' | 'patientId' | 'breakGlassGrantId' | 'details'>): AccessFacts | null {
  const userId = event.actor.userId;
  if (!userId || !isPhiAction(event.action)) return null;
  const patientId = event.patientId ?? null;
  if (event.outcome === 'allowed') {
    return {
      kind: 'access',
      userId,
      patientId,
      outsideCareTeam: Boolean(patientId && (event.breakGlassGrantId || event.action === auditActions.breakGlass.identityView)),
      emergencyLookup: event.action === auditActions.patient.emergencyLookup,
    };
  }
  return { kind: 'denial', userId, patientId, outsideCareTeam: Boolean(patientId && event.details?.reason === 'no_relationship'), emergencyLookup: false };
}
