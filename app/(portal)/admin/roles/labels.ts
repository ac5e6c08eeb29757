import type { PermissionCategory } from '@/lib/domain/access/permissions';

/** What each permission category means, in the words the role editor uses. */
export const categoryLabels: Record<PermissionCategory, { title: string; meaning: string }> = {
  ehr_read: { title: 'Chart: read', meaning: 'Chart sections the role may see (only for patients on the person’s care team).' },
  ehr_write: { title: 'Chart: write', meaning: 'Chart sections the role may add to or change.' },
  emergency: { title: 'Emergency', meaning: 'break_glass lets the person request time-limited emergency access to a chart.' },
  admin: { title: 'Administration', meaning: 'Users, roles, care teams and settings. Grants no access to charts.' },
  audit: { title: 'Audit', meaning: 'The audit trail, break-glass reviews, incidents and disclosures.' },
};
