import 'server-only';
import { hasPermission } from '@/lib/domain/access/permissions';
import type { Viewer } from '@/lib/domain/access/viewer';
import { adminPermission, auditPermission } from '@/lib/domain/access/permission-names';

/** The pages a viewer's permissions open, for the top bar (pages still check for themselves). */
export function navigationFor(viewer: Viewer): { href: string; label: string }[] {
  const links: { href: string; label: string }[] = [];
  if (viewer.permissions.ehr_read?.length) links.push({ href: '/patients', label: 'Patients' });
  if (viewer.permissions.admin?.length) {
    links.push({ href: '/admin/users', label: 'Users' }, { href: '/admin/roles', label: 'Roles' }, { href: '/admin/care-teams', label: 'Care teams' });
    if (hasPermission(viewer.permissions, 'admin', adminPermission.readRoles)) links.push({ href: '/admin/sso', label: 'SSO groups' });
    if (hasPermission(viewer.permissions, 'admin', adminPermission.breakGlassSettings)) links.push({ href: '/admin/break-glass/settings', label: 'Break-glass window' });
    if (hasPermission(viewer.permissions, 'admin', adminPermission.readApiClients)) links.push({ href: '/admin/api-clients', label: 'API clients' });
    if (hasPermission(viewer.permissions, 'admin', adminPermission.readSmartApps)) links.push({ href: '/admin/smart-apps', label: 'SMART apps' });
    if (hasPermission(viewer.permissions, 'admin', adminPermission.keyLifecycle)) links.push({ href: '/admin/keys', label: 'Keys' });
  }
  if (viewer.permissions.audit?.length) {
    links.push(
      { href: '/admin/audit', label: 'Audit' },
      { href: '/admin/break-glass', label: 'Break-glass' },
      { href: '/admin/incidents', label: 'Incidents' },
    );
  }
  // Administrators set the thresholds; privacy officers, who work the incidents they open, read them.
  if (hasPermission(viewer.permissions, 'admin', adminPermission.monitorSettings) || hasPermission(viewer.permissions, 'audit', auditPermission.viewIncidents)) {
    links.push({ href: '/admin/monitoring', label: 'Monitoring thresholds' });
  }
  // The second person of the two-person rule: administrators, and privacy officers for thresholds.
  if (hasPermission(viewer.permissions, 'admin', adminPermission.readUsers) || hasPermission(viewer.permissions, 'audit', auditPermission.viewIncidents)) {
    links.push({ href: '/admin/requests', label: 'Approvals' });
  }
  if (viewer.permissions.admin?.length || viewer.permissions.audit?.length) links.push({ href: '/admin', label: 'Dashboard' });
  return links;
}
