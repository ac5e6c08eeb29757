import 'server-only';

export { recordAudit, onAudit, type AuditActor, type AuditEvent, type AuditRecord } from './append';
export { GENESIS_HASH, canonicalEntry, chainHash } from './chain';
export { normaliseIp } from './ip';
