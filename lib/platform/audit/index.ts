import 'server-only';

export { recordAudit, onAudit, type AuditActor, type AuditCompanion, type AuditCompanionBuilder, type AuditEvent, type AuditRecord } from '@/lib/platform/audit/append';
export { GENESIS_HASH, canonicalEntry, chainHash } from '@/lib/platform/audit/chain';
export { normaliseIp } from '@/lib/platform/audit/ip';
export { flushRefusals, pendingRefusals, tallyRefusal, REFUSAL_INTERVAL_MS, type Refusal } from '@/lib/platform/audit/refusals';
