import 'server-only';
import { chartSections } from '@/lib/domain/access/roles';
import type { AuditEvent } from '@/lib/platform/audit';

/**
 * Which audited events count as a PHI access for monitoring:
 * - `chart.*` (a chart view, export or print) — one access per chart;
 * - `patient.list` and `patient.search` — one access per page of results (each shows a page
 *   of names, dates of birth and MRNs); `patient.lookup` (an MRN or id resolved);
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
}

/** Only offered for a patient outside the care team: a disclosure outside it by definition. */
export const IDENTITY_VIEW = 'break_glass.identity_view';
const sectionNames = new Set<string>(chartSections);
const writeVerbs = new Set(['create', 'update', 'write', 'billing_status']);

export function isPhiAction(action: string): boolean {
  if (action.startsWith('chart.')) return true;
  if (action === 'patient.list' || action === 'patient.search' || action === 'patient.lookup' || action === IDENTITY_VIEW) return true;
  const dot = action.indexOf('.');
  return dot > 0 && sectionNames.has(action.slice(0, dot)) && writeVerbs.has(action.slice(dot + 1));
}

export function classifyAccess(event: Pick<AuditEvent, 'actor' | 'action' | 'outcome' | 'patientId' | 'breakGlassGrantId' | 'details'>): AccessFacts | null {
  const userId = event.actor.userId;
  if (!userId || !isPhiAction(event.action)) return null;
  const patientId = event.patientId ?? null;
  if (event.outcome === 'allowed') {
    return { kind: 'access', userId, patientId, outsideCareTeam: Boolean(patientId && (event.breakGlassGrantId || event.action === IDENTITY_VIEW)) };
  }
  return { kind: 'denial', userId, patientId, outsideCareTeam: Boolean(patientId && event.details?.reason === 'no_relationship') };
}
