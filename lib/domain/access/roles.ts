import 'server-only';
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

export const sectionPermission = (section: ChartSection) => `patient.${section}`;
/** Billing may change one field of an encounter and nothing else. */
export const BILLING_STATUS_PERMISSION = 'patient.encounters.billing_status';

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
      ehr_write: ['patient.progress_notes', 'patient.problems', 'patient.medications', 'patient.allergies'],
      emergency: ['break_glass'],
    },
  },
  nurse: {
    description: 'Reads demographics, allergies, medications, problems, vitals and nursing notes; records vitals and nursing notes.',
    permissions: {
      ehr_read: [
        'patient.demographics',
        'patient.allergies',
        'patient.medications',
        'patient.problems',
        'patient.vitals',
        'patient.nursing_notes',
      ],
      ehr_write: ['patient.vitals', 'patient.nursing_notes'],
      emergency: ['break_glass'],
    },
  },
  billing: {
    description: 'Reads demographics, insurance and encounters (codes and charges); sets an encounter’s billing status.',
    permissions: {
      ehr_read: ['patient.demographics', 'patient.insurance', 'patient.encounters'],
      ehr_write: [BILLING_STATUS_PERMISSION],
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
