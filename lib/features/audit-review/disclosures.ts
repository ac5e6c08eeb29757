import 'server-only';
import { and, asc, eq, gt, gte, lt, or, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { auditLog } from '@/db/schema';
import { auditPermission } from '@/lib/domain/access/permission-names';
import { reasonLabels, type BreakGlassReason } from '@/lib/domain/break-glass/justification';
import { fail, ok, type Result } from '@/lib/domain/result';
import { operation } from '@/lib/pipeline/operation';
import { existingPatient } from '@/lib/features/break-glass/patient';
import { selectAuditEntries, type AuditListEntry } from '@/lib/features/audit-review/query';
import { auditActions } from '@/lib/domain/audit/actions';
import { revealReasonLabel } from '@/lib/domain/audit/reveal-reasons';

/**
 * The accounting of disclosures ("who viewed my chart"): every recorded access to one patient's
 * record, oldest first — chart views with the sections shown, appearances in a clinician's
 * patient list or search results, changes, refusals, emergency access with its reason, and
 * privacy reviews — with who, their role at the time, when, what, the outcome and why. Built
 * from the audit trail alone, so it is as complete and as tamper-evident as the trail.
 */
export interface DisclosureRow {
  seq: number;
  at: string;
  who: string;
  email: string | null;
  role: string;
  action: string;
  what: string;
  outcome: 'allowed' | 'denied';
  why: string;
  breakGlass: { reasonCode: string | null; reasonLabel: string | null } | null;
}

export interface DisclosureReport {
  patientId: string;
  generatedAt: string;
  from: string | null;
  to: string | null;
  rows: DisclosureRow[];
  /** More entries matched than a report shows: narrow the dates. */
  truncated: boolean;
}

export const DISCLOSURE_REPORT_MAX = 10_000;

const inputSchema = z.object({
  patientId: z.string().trim().toLowerCase().uuid(),
  from: z.date().optional(),
  to: z.date().optional(),
});

const patientOf = (raw: unknown) => {
  const id = (raw as { patientId?: unknown } | null)?.patientId;
  return typeof id === 'string' ? id.trim().toLowerCase() : null;
};

/**
 * Preparing the report is recorded against the patient first, so the report ends with its own
 * preparation; a refusal names the patient too, and so shows in a later report.
 */
export const accountingOfDisclosures = operation({
  name: 'audit-review.disclosures',
  action: auditActions.disclosures.report,
  resourceType: 'audit_log',
  permission: { category: 'audit', name: auditPermission.disclosures },
  deniedMessage: 'You do not have access to disclosure reports.',
  target: patientOf,
  targetPatient: existingPatient,
  input: inputSchema,
  invalid: () => fail('invalid', 'That is not a patient id. Copy it from the audit trail.'),
  run: async ({ tx, input, at, audit }): Promise<Result<DisclosureReport, never>> => {
    const { patientId, from, to } = input;
    await audit({ patientId, resourceId: patientId });
    const touches = or(
      eq(auditLog.patientId, patientId),
      // Lists and searches name every patient they showed (details.shown).
      sql`${auditLog.details} @> jsonb_build_object('shown', jsonb_build_array(${patientId}::text))`,
    )!;
    const range: SQL[] = [...(from ? [gte(auditLog.occurredAt, from)] : []), ...(to ? [lt(auditLog.occurredAt, to)] : [])];
    const rows: DisclosureRow[] = [];
    let after = 0;
    let truncated = false;
    for (;;) {
      const page = await selectAuditEntries(tx, and(touches, gt(auditLog.seq, after), ...range), [asc(auditLog.seq)], 1_000);
      for (const entry of page) {
        if (rows.length === DISCLOSURE_REPORT_MAX) {
          truncated = true;
          break;
        }
        rows.push(disclosureRow(entry));
      }
      if (truncated || page.length < 1_000) break;
      after = page.at(-1)!.seq;
    }
    return ok({ patientId, generatedAt: at.toISOString(), from: from?.toISOString() ?? null, to: to?.toISOString() ?? null, rows, truncated });
  },
});

const refusalReasons: Record<string, string> = {
  no_relationship: 'not on the patient’s care team',
  no_permission: 'their role does not allow it',
  not_found: 'record not found',
};

const label = (name: string) => name.replace(/_/g, ' ');
const roleLabel = (role: string) => `${role.charAt(0).toUpperCase()}${label(role).slice(1)}`;

function describe(entry: AuditListEntry): string {
  const [kind = '', verb = ''] = entry.action.split('.');
  const denied = entry.outcome === 'denied';
  if (entry.action === auditActions.chart.view) {
    const sections = Array.isArray(entry.details?.sections) ? (entry.details.sections as string[]) : [];
    return denied ? 'Tried to open the chart' : `Viewed the chart${sections.length ? `: ${sections.map(label).join(', ')}` : ''}`;
  }
  if (entry.action === auditActions.patient.list) return 'Saw the patient’s name in their patient list';
  if (entry.action === auditActions.patient.search) return 'Found the patient in a search';
  if (entry.action === auditActions.disclosures.report) return 'Prepared an accounting of disclosures';
  if (entry.action === auditActions.audit.stateReveal) return 'Opened the recorded values of a change (privacy review)';
  if (entry.action === auditActions.breakGlass.reviewView) return 'Opened the justification and MRN of an emergency access (privacy review)';
  if (kind === 'audit') return 'Reviewed the audit trail';
  if (entry.action === auditActions.visit.recordingPlay) return denied ? 'Tried to watch a video visit recording' : 'Watched a video visit recording';
  if (kind === 'visit') return `Video visit: ${label(verb)}`;
  if (kind === 'break_glass') return `Emergency access: ${label(verb)}`;
  if (verb === 'create') return denied ? `Tried to add to ${label(kind)}` : `Added to ${label(kind)}`;
  if (verb === 'update' || verb === 'write') return denied ? `Tried to change ${label(kind)}` : `Changed ${label(kind)}`;
  if (entry.action === auditActions.encounters.billingStatus) return 'Changed the billing status of an encounter';
  return label(entry.action);
}

/** A privacy officer's own work on the record: the trail, disclosure reports, a grant's sealed values opened for review. */
const oversight = (action: string) => action.startsWith('audit.') || action.startsWith('disclosures.') || action === auditActions.breakGlass.reviewView;

function purpose(entry: AuditListEntry, roles: string[]): string {
  if (entry.outcome === 'denied') {
    const reason = typeof entry.details?.reason === 'string' ? entry.details.reason : '';
    return `Refused${refusalReasons[reason] ? `: ${refusalReasons[reason]}` : ''}`;
  }
  if (entry.breakGlass) {
    const code = entry.breakGlass.reasonCode;
    return `Emergency access${code ? ` — ${reasonLabels[code as BreakGlassReason] ?? label(code)}` : ''}`;
  }
  if (oversight(entry.action)) {
    // A reveal's stated reason, from the fixed list (never free text).
    const stated = revealReasonLabel(entry.details?.reason);
    return stated ? `Privacy oversight — ${stated}` : 'Privacy oversight';
  }
  if (roles.includes('billing') && !roles.some((r) => r === 'physician' || r === 'nurse')) return 'Payment (billing)';
  return 'Treatment (care team)';
}

function disclosureRow(entry: AuditListEntry): DisclosureRow {
  const reasonCode = entry.breakGlass?.reasonCode ?? null;
  return {
    seq: entry.seq,
    at: entry.occurredAt,
    who: entry.user?.displayName ?? (entry.user ? 'Former user' : 'Unidentified'),
    email: entry.user?.email ?? null,
    role: entry.roles.map(roleLabel).join(', ') || '—',
    action: entry.action,
    what: describe(entry),
    outcome: entry.outcome === 'denied' ? 'denied' : 'allowed',
    why: purpose(entry, entry.roles),
    breakGlass: entry.breakGlass ? { reasonCode, reasonLabel: reasonCode ? (reasonLabels[reasonCode as BreakGlassReason] ?? null) : null } : null,
  };
}
