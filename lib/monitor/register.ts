import 'server-only';
import { onAudit } from '@/lib/audit';
import { monitorAccess } from './listener';

/**
 * Importing this module turns monitoring on for the process. lib/records/index.ts (the data
 * access layer every PHI read and write goes through) and lib/monitor/index.ts import it, so
 * the Next server, scripts and tests that touch PHI all have the listener before their first
 * audited access. lib/audit itself does not import it: lib/monitor writes audit entries, and
 * the dependency runs one way (monitor → audit). onAudit ignores a second registration.
 */
onAudit(monitorAccess);
