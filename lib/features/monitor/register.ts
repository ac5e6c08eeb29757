import 'server-only';
import { onAudit } from '@/lib/platform/audit';
import { countAccess, monitorAccess } from '@/lib/features/monitor/listener';
import { openTamperCase } from '@/lib/features/monitor/tampering';

/**
 * Turns access monitoring on for the process: every audited PHI access is counted and judged
 * from then on. Called where a process starts, before its first audited access: the Next
 * server (instrumentation.ts), the test set-up (test/setup.ts) and the scripts that read PHI.
 * lib/platform/audit cannot do it itself: lib/features/monitor writes audit entries, and the
 * dependency runs one way (monitor → audit). A second call changes nothing (onAudit keeps one
 * registration of a listener). Opens no database, so `next build` may run it too.
 */
export function registerMonitoring(): void {
  onAudit(monitorAccess, countAccess);
  onAudit(openTamperCase);
}
