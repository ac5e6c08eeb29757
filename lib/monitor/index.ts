import 'server-only';
import './register';

export { openIncident, MONITOR_DISABLE_PREFIX, type IncidentInput, type IncidentOutcome } from './incidents';
export { monitorAccess } from './listener';
export { getMonitorConfig, saveMonitorConfig, defaultMonitorConfig, MONITOR_SETTING, type MonitorConfig } from './config';
export { ruleLabel, ruleLabels, severityRank, type Severity, type RuleName } from './rules';
export {
  getIncidentCase,
  getIncidentQueue,
  resolveIncident,
  type CaseSummary,
  type HourPoint,
  type IncidentCase,
  type QueueFilter,
  type QueueGroup,
  type ResolveResult,
} from './review';
export { canViewDashboard, getAdminDashboard, type AdminDashboard } from './dashboard';
