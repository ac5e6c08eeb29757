import 'server-only';
import { chartSections } from '@/lib/access/roles';
import type { AuditEvent } from '@/lib/audit';

/**
 * Which audited events count as a PHI access for monitoring:
 * - `chart.*` (a chart view, export or print) — one access per chart;
 * - `patient.list` and `patient.search` — one access per page of results (each shows a page
 *   of names, dates of birth and MRNs);
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

const sectionNames = new Set<string>(chartSections);
const writeVerbs = new Set(['create', 'update', 'write', 'billing_status']);

export function isPhiAction(action: string): boolean {
  if (action.startsWith('chart.')) return true;
  if (action === 'patient.list' || action === 'patient.search') return true;
  const dot = action.indexOf('.');
  return dot > 0 && sectionNames.has(action.slice(0, dot)) && writeVerbs.has(action.slice(dot + 1));
}

export function classifyAccess(event: Pick<AuditEvent, 'actor' | 'action' | 'outcome' | 'patientId' | 'breakGlassGrantId' | 'details'>): AccessFacts | null {
  const userId = event.actor.userId;
  if (!userId || !isPhiAction(event.action)) return null;
  const patientId = event.patientId ?? null;
  if (event.outcome === 'allowed') {
    return { kind: 'access', userId, patientId, outsideCareTeam: Boolean(event.breakGlassGrantId && patientId) };
  }
  return { kind: 'denial', userId, patientId, outsideCareTeam: Boolean(patientId && event.details?.reason === 'no_relationship') };
}
