import 'server-only';
import { chartPermission, emergencyPermission, type ChartPermission } from '@/lib/domain/access/permission-names';
import type { PermissionSet } from '@/lib/domain/access/permissions';

/** The chart sections, in the order a chart shows them; each is the permission `patient.<section>`. */
export const chartSections = [
  'demographics',
  'insurance',
  'allergies',
  'medications',
  'problems',
  'vitals',
  'progress_notes',
  'nursing_notes',
  'encounters',
] as const;
export type ChartSection = (typeof chartSections)[number];

export const sectionPermission = (section: ChartSection): ChartPermission => chartPermission[section];

export const roleNames = ['physician', 'nurse', 'billing', 'admin', 'privacy_officer'] as const;
export type BuiltInRole = (typeof roleNames)[number];

/** Roles whose holders treat patients: they may use break-glass, and admins may not grant them to themselves. */
export const clinicalRoles: readonly string[] = ['physician', 'nurse'];
/** Roles an admin can never grant to their own account (see lib/domain/access/admin-rules.ts). */
export const selfGrantForbiddenRoles: readonly string[] = ['physician', 'nurse', 'billing', 'privacy_officer', 'admin'];

export const defaultRoles: Record<BuiltInRole, { description: string; permissions: PermissionSet }> = {
  physician: {
    description: 'Reads every clinical section; writes progress notes, problems, medications and allergies.',
    permissions: {
      ehr_read: ['patient.*'],
      ehr_write: [chartPermission.progress_notes, chartPermission.problems, chartPermission.medications, chartPermission.allergies],
      emergency: [emergencyPermission.breakGlass],
    },
  },
  nurse: {
    description: 'Reads demographics, allergies, medications, problems, vitals and nursing notes; records vitals and nursing notes.',
    permissions: {
      ehr_read: [
        chartPermission.demographics,
        chartPermission.allergies,
        chartPermission.medications,
        chartPermission.problems,
        chartPermission.vitals,
        chartPermission.nursing_notes,
      ],
      ehr_write: [chartPermission.vitals, chartPermission.nursing_notes],
      emergency: [emergencyPermission.breakGlass],
    },
  },
  billing: {
    description: 'Reads demographics, insurance and encounters (codes and charges); sets an encounter’s billing status.',
    permissions: {
      ehr_read: [chartPermission.demographics, chartPermission.insurance, chartPermission.encounters],
      // Billing may change one field of an encounter and nothing else.
      ehr_write: [chartPermission.billingStatus],
    },
  },
  admin: {
    description: 'Manages users, roles and care teams. Sees no PHI.',
    permissions: { admin: ['users.*', 'roles.*', 'care_teams.*', 'settings.*', 'api_clients.*'] },
  },
  privacy_officer: {
    description: 'Reviews the audit trail, break-glass grants and incidents.',
    permissions: { audit: ['audit.*', 'break_glass.*', 'incidents.*', 'disclosures.*'] },
  },
};
