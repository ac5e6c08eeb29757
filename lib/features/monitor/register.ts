import 'server-only';
import { onAudit } from '@/lib/platform/audit';
import { monitorAccess } from '@/lib/features/monitor/listener';

/**
 * Importing this module turns monitoring on for the process. lib/features/records/index.ts (the data
 * access layer every PHI read and write goes through) and lib/features/monitor/index.ts import it, so
 * the Next server, scripts and tests that touch PHI all have the listener before their first
 * audited access. lib/platform/audit itself does not import it: lib/features/monitor writes audit entries, and
 * the dependency runs one way (monitor → audit). onAudit ignores a second registration.
 */
onAudit(monitorAccess);
