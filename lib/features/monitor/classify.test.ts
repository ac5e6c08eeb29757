/**
 * Monitoring counts what the action registry flags `phi`. Before the registry, the monitor
 * decided by parsing the name; that parser is kept here, verbatim, so the flags are proved to
 * pick out the same set of registered actions it accepted — plus the PHI accesses added since,
 * each named below with why it counts.
 */
import { describe, expect, it } from 'vitest';
import { chartSections } from '@/lib/domain/access/roles';
import { auditActionList } from '@/lib/domain/audit/actions';
import { isPhiAction } from '@/lib/features/monitor/classify';

const sectionNames = new Set<string>(chartSections);
const writeVerbs = new Set(['create', 'update', 'write', 'billing_status']);

/** PHI accesses registered after the parser: the name alone would not have told it. */
const addedSince = [
  'patient.emergency_lookup', // identity rows of patients outside the care team
  'fhir.read', // a patient's resources through the FHIR API
  'fhir.search', // a page of Patient search results through the FHIR API
  'break_glass.review_view', // a grant's justification and MRN, opened by its reviewer
  'audit.state.reveal', // the sealed before/after of a chart write, opened by a privacy officer
  'visit.recording_play', // a video visit recording, decrypted and streamed
];

function parsedAsPhi(action: string): boolean {
  if (action.startsWith('chart.')) return true;
  if (action === 'patient.list' || action === 'patient.search' || action === 'patient.lookup' || action === 'break_glass.identity_view') return true;
  const dot = action.indexOf('.');
  return dot > 0 && sectionNames.has(action.slice(0, dot)) && writeVerbs.has(action.slice(dot + 1));
}

describe('isPhiAction', () => {
  it('flags exactly the registered actions the name parser accepted', () => {
    const flagged = auditActionList.filter((a) => isPhiAction(a.name)).map((a) => a.name);
    const parsed = auditActionList.filter((a) => parsedAsPhi(a.name) || addedSince.includes(a.name)).map((a) => a.name);
    expect(flagged).toEqual(parsed);
    // Not vacuous: chart views, lists and lookups, the identity prompt and every section's writes.
    expect(flagged.length).toBe(2 + 3 + 1 + chartSections.length * 3 + 1 + addedSince.length);
  });
});
