import 'server-only';
import { z } from 'zod';
import { auditPermission } from '@/lib/domain/access/permission-names';
import { ok, type Result } from '@/lib/domain/result';
import { now as clockNow } from '@/lib/platform/clock';
import { operation } from '@/lib/pipeline/operation';
import { auditFilterSchema, auditTrailDenied, describeFilter, invalidFilter, iterateAuditLog, type AuditListEntry } from '@/lib/features/audit-review/query';
import { auditActions } from '@/lib/domain/audit/actions';
import { withBalpRest } from '@/lib/features/audit-review/balp';

/**
 * Exports of a filtered audit trail: CSV for spreadsheets, and a FHIR R4 Bundle of AuditEvent
 * resources for other systems. Both stream, newest entry first. Sealed before/after state is
 * never exported: it is PHI, and opening it is a separate, recorded act (the entry page).
 */
export const exportFormats = ['csv', 'fhir'] as const;
export type ExportFormat = (typeof exportFormats)[number];

export interface AuditExport {
  filename: string;
  contentType: string;
  chunks: AsyncIterable<string>;
}

/**
 * The export is recorded when it is granted, before the first byte is read: the entries stream
 * afterwards, a page at a time, outside the recording transaction (a long download never holds
 * up the trail's other writers).
 */
export const exportAuditLog = operation({
  name: 'audit-review.export',
  action: auditActions.audit.export,
  resourceType: 'audit_log',
  permission: { category: 'audit', name: auditPermission.export },
  deniedMessage: auditTrailDenied,
  // An unknown format falls back to CSV, as a bare download link asks for.
  input: auditFilterSchema.extend({ format: z.enum(exportFormats).catch('csv') }),
  invalid: invalidFilter,
  run: async ({ input, at, audit }): Promise<Result<AuditExport, never>> => {
    const { format, ...filter } = input;
    await audit({ details: { format, ...describeFilter(filter) } });
    const stamp = at.toISOString().replace(/[:.]/g, '-');
    const entries = iterateAuditLog(filter);
    return ok(
      format === 'csv'
        ? { filename: `vigil-audit-${stamp}.csv`, contentType: 'text/csv; charset=utf-8', chunks: csvChunks(entries) }
        : { filename: `vigil-audit-${stamp}.fhir.json`, contentType: 'application/fhir+json; charset=utf-8', chunks: fhirBundleChunks(entries) },
    );
  },
});

export const csvColumns = [
  'seq',
  'occurred_at',
  'user_email',
  'user_id',
  'roles',
  'action',
  'resource_type',
  'resource_id',
  'patient_id',
  'outcome',
  'break_glass_grant_id',
  'break_glass_reason',
  'ip',
  'user_agent',
  'details',
  'prev_hash',
  'hash',
] as const;

/**
 * One CSV field. A value a spreadsheet would run as a formula (=, +, -, @, tab, CR at the start)
 * is prefixed with an apostrophe: user agents and ids come from outside (CSV injection).
 */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'string' ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(entry: AuditListEntry): string {
  const { actorRoles: _roles, ...details } = entry.details ?? {};
  const values: Record<(typeof csvColumns)[number], unknown> = {
    seq: entry.seq,
    occurred_at: entry.occurredAt,
    user_email: entry.user?.email,
    user_id: entry.user?.id,
    roles: entry.roles.join(' '),
    action: entry.action,
    resource_type: entry.resourceType,
    resource_id: entry.resourceId,
    patient_id: entry.patientId,
    outcome: entry.outcome,
    break_glass_grant_id: entry.breakGlass?.grantId,
    break_glass_reason: entry.breakGlass?.reasonCode,
    ip: entry.ip,
    user_agent: entry.userAgent,
    details: Object.keys(details).length ? details : null,
    prev_hash: entry.prevHash,
    hash: entry.hash,
  };
  return `${csvColumns.map((c) => csvField(values[c])).join(',')}\r\n`;
}

async function* csvChunks(entries: AsyncIterable<AuditListEntry>): AsyncGenerator<string> {
  yield `${csvColumns.join(',')}\r\n`;
  for await (const entry of entries) yield csvRow(entry);
}

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const eventTypes = {
  auth: { system: DCM, code: '110114', display: 'User Authentication' },
  auditLog: { system: DCM, code: '110101', display: 'Audit Log Used' },
  export: { system: DCM, code: '110106', display: 'Export' },
  query: { system: DCM, code: '110112', display: 'Query' },
  patientRecord: { system: DCM, code: '110110', display: 'Patient Record' },
  application: { system: DCM, code: '110100', display: 'Application Activity' },
} as const;

function eventType(entry: AuditListEntry) {
  const [kind = ''] = entry.action.split('.');
  if (['auth', 'session', 'mfa'].includes(kind)) return eventTypes.auth;
  if (entry.action.endsWith('.export')) return eventTypes.export;
  if (kind === 'audit' || kind === 'disclosures') return eventTypes.auditLog;
  if (entry.action === auditActions.patient.search || entry.action === auditActions.patient.list) return eventTypes.query;
  if (entry.patientId) return eventTypes.patientRecord;
  return eventTypes.application;
}

/** FHIR AuditEventAction: Create, Read, Update, Delete, Execute. */
export type EventAction = 'C' | 'R' | 'U' | 'D' | 'E';

function eventAction(action: string): EventAction {
  const verb = action.split('.').at(-1) ?? '';
  if (verb === 'create') return 'C';
  if (['view', 'list', 'search', 'read', 'report', 'lookup'].includes(verb)) return 'R';
  if (['update', 'billing_status'].includes(verb)) return 'U';
  if (verb === 'delete' || verb === 'shred') return 'D';
  return 'E';
}

/** The `AuditEvent.action` an entry exports with, BALP's RESTful reads included: what a search by action matches. */
export function exportedAction(action: string, details: Record<string, unknown> | null): EventAction {
  return withBalpRest({ action: eventAction(action) }, action, details).action as EventAction;
}

/** One entry as a FHIR R4 AuditEvent (http://hl7.org/fhir/R4/auditevent.html). */
export function toFhirAuditEvent(entry: AuditListEntry): Record<string, unknown> {
  const reason = typeof entry.details?.reason === 'string' ? entry.details.reason : null;
  const entities: Record<string, unknown>[] = [];
  if (entry.patientId) {
    entities.push({
      what: { reference: `Patient/${entry.patientId}` },
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' },
    });
  }
  if (entry.resourceId || entry.resourceType) {
    entities.push({
      ...(entry.resourceId ? { what: { identifier: { system: `urn:vigil:${entry.resourceType}`, value: entry.resourceId } } } : {}),
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
      detail: [{ type: 'resourceType', valueString: entry.resourceType }],
    });
  }
  const event: Record<string, unknown> = {
    resourceType: 'AuditEvent',
    id: entry.logId,
    extension: [
      {
        url: 'urn:vigil:audit-chain',
        extension: [
          { url: 'seq', valueInteger: entry.seq },
          { url: 'prevHash', valueString: entry.prevHash },
          { url: 'hash', valueString: entry.hash },
        ],
      },
    ],
    type: eventType(entry),
    subtype: [{ system: 'urn:vigil:audit-action', code: entry.action }],
    action: eventAction(entry.action),
    recorded: entry.occurredAt,
    outcome: entry.outcome === 'allowed' ? '0' : '4',
    ...(entry.outcome === 'denied' ? { outcomeDesc: `Denied${reason ? `: ${reason}` : ''}` } : {}),
    ...(entry.breakGlass
      ? {
          purposeOfEvent: [
            {
              coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'ETREAT', display: 'Emergency Treatment' }],
              ...(entry.breakGlass.reasonCode ? { text: entry.breakGlass.reasonCode } : {}),
            },
          ],
        }
      : {}),
    agent: [
      {
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type', code: 'humanuser', display: 'human user' }] },
        ...(entry.roles.length ? { role: entry.roles.map((r) => ({ text: r })) } : {}),
        who: entry.user
          ? { identifier: { system: 'urn:vigil:user', value: entry.user.id }, ...(entry.user.email ? { display: entry.user.email } : {}) }
          : { display: 'unidentified' },
        requestor: true,
        ...(entry.ip ? { network: { address: entry.ip, type: '2' } } : {}),
      },
    ],
    source: {
      site: 'Vigil',
      observer: { display: 'Vigil clinician portal' },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
    },
    ...(entities.length ? { entity: entities } : {}),
  };
  // The API's reads carry the BALP RESTful shape (./balp.ts).
  return withBalpRest(event, entry.action, entry.details);
}

async function* fhirBundleChunks(entries: AsyncIterable<AuditListEntry>): AsyncGenerator<string> {
  yield `{"resourceType":"Bundle","type":"collection","timestamp":${JSON.stringify(clockNow().toISOString())},"entry":[`;
  let first = true;
  for await (const entry of entries) {
    yield `${first ? '' : ','}\n${JSON.stringify({ fullUrl: `urn:uuid:${entry.logId}`, resource: toFhirAuditEvent(entry) })}`;
    first = false;
  }
  yield '\n]}\n';
}
