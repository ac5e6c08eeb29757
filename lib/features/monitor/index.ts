import 'server-only';

/**
 * Access monitoring. Every audited PHI access (see classify.ts: chart views, patient lists and
 * searches, section writes; `denied` outcomes count as refusals) bumps the user's hourly row in
 * access_counters and is judged, in the same transaction, against an hourly-cached profile:
 *
 * | rule                 | fires when (defaults; settings row `monitor.rules`)                         | severity          |
 * |----------------------|------------------------------------------------------------------------------|-------------------|
 * | volume               | accesses in the last 60 min > max(30, 3 × baseline); baseline = p90 of the   | CRITICAL          |
 * |                      | user's active hours over 14 days, or the role default (physician 25, nurse   |                   |
 * |                      | 30, billing 60, other 10) with fewer than 8 active hours                     |                   |
 * | denial_burst         | ≥ 10 refused PHI requests in 10 min; ≥ 30 escalates the same case            | HIGH → CRITICAL   |
 * | breadth              | ≥ 5 distinct patients outside the care team (break-glass or refused) in 60 m | HIGH              |
 * | off_hours            | access 22:00–06:00 (UTC unless set) by a user with history and no night hour | MEDIUM            |
 * | emergency_lookups    | ≥ 10 emergency lookups that showed a patient outside the care team in 60 m | HIGH              |
 * | same_last_name       | patient's last-name and prefix blind indexes equal the user's surname's      | LOW               |
 * | repeated_break_glass | > 3 grants in 24 h (lib/features/break-glass calls openIncident)                      | HIGH              |
 *
 * CRITICAL disables the account, revokes its sessions, notifies privacy officers and audits
 * `incident.open` + `user.disable`, all in the transaction of the access that crossed the line.
 */

export { openIncident, MONITOR_DISABLE_PREFIX, type IncidentInput, type IncidentOutcome } from '@/lib/features/monitor/incidents';
export { monitorAccess } from '@/lib/features/monitor/listener';
export { registerMonitoring } from '@/lib/features/monitor/register';
export { getMonitorConfig, saveMonitorConfig, defaultMonitorConfig, MONITOR_SETTING, type MonitorConfig } from '@/lib/features/monitor/config';
export { ruleLabel, ruleLabels, severityRank, type Severity, type RuleName } from '@/lib/domain/monitor/rules';
export { type CaseSummary, type HourPoint, type SubjectUser } from '@/lib/features/monitor/case-rows';
export { getIncidentQueue, queueFilters, type QueueFilter, type QueueGroup } from '@/lib/features/monitor/queue';
export { getIncidentCase, type EvidenceItem, type IncidentCase } from '@/lib/features/monitor/case-view';
export { resolveIncident, resolveIncidentSchema, type Resolution } from '@/lib/features/monitor/resolution';
export { openResolutionComment, sealResolutionComment, type ResolutionComment } from '@/lib/features/monitor/resolution-comment';
export { canViewDashboard, getAdminDashboard, type AdminDashboard } from '@/lib/features/monitor/dashboard';
