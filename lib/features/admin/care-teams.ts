import 'server-only';
import { and, asc, desc, eq, gt, inArray, isNull, or } from 'drizzle-orm';
import { z } from 'zod';
import { careTeam, patients, userRoles, users } from '@/db/schema';
import { checkedRows, heldRoleNames, intactRow, intactRows, macColumns, updateWithMac, withMac } from '@/lib/platform/integrity';
import { careTeamRelationships, mayHoldRelationship, relationshipRoles, type CareTeamRelationship } from '@/lib/domain/access/care-team';
import { adminPermission } from '@/lib/domain/access/permission-names';
import { auditActions } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { operation } from '@/lib/pipeline/operation';
import { findPatientByMrn, mrnQuerySchema, patientReference } from '@/lib/features/records';
import { adminMessages, adminOnly, serialisedAdminChange } from '@/lib/features/admin/messages';
import { chainOf } from '@/lib/features/admin/chain';
import { requestMessages } from '@/lib/features/admin/requests';
import { actsOnOwnChain } from '@/lib/domain/access/two-person';

export interface CareTeamMember {
  assignmentId: string;
  userId: string;
  email: string;
  displayName: string;
  relationship: string;
  fromAt: string;
  /** The row was altered outside Vigil: listed so the administrator sees it, but it opens no chart. */
  tampered: boolean;
}

/** One of a user's current assignments; `tampered` as for a member. */
export interface Assignment {
  assignmentId: string;
  patientId: string;
  relationship: string;
  fromAt: string;
  tampered: boolean;
}

export interface Clinician {
  id: string;
  email: string;
  displayName: string;
  roles: string[];
}

const activeAt = (at: Date) => or(isNull(careTeam.untilAt), gt(careTeam.untilAt, at));
const uuid = z.string().uuid('Reload the page and try again.');
const notFound = () => fail('not_found', adminMessages.not_found);

/**
 * Care-team pages read with `admin: care_teams.read`. The lists hold no PHI, so only a refusal
 * is audited here; naming a patient (by MRN or id) is audited by lib/features/records/lookup.ts.
 */
const careTeamReading = {
  action: auditActions.careTeam.view,
  resourceType: 'care_team',
  ...adminOnly(adminPermission.readCareTeams),
  audits: 'refusals',
} as const;

/** The patient an admin names by MRN (see lib/features/records/lookup.ts for why only the MRN). */
export const findPatient = operation({
  ...careTeamReading,
  name: 'admin.care-team.find-patient',
  input: mrnQuerySchema,
  invalid: (error) => {
    const message = error.issues[0]?.message ?? 'Enter the patient’s MRN.';
    return fail('invalid', message, { mrn: message });
  },
  run: async ({ tx, viewer, input }) => {
    const found = await findPatientByMrn(tx, viewer, input);
    return found ? ok(found) : fail('invalid', 'No patient has that MRN.', { mrn: 'No patient has that MRN.' });
  },
});

/** A patient's current care team, named by id and MRN only. */
export const careTeamOf = operation({
  ...careTeamReading,
  name: 'admin.care-team.of-patient',
  input: z.string(),
  invalid: notFound,
  run: async ({ tx, viewer, input, at }) => {
    const patient = await patientReference(tx, viewer, input);
    if (!patient) return notFound();
    const rows = await tx
      .select({ ...macColumns.care_team, email: users.email, displayName: users.displayName, fromAt: careTeam.fromAt })
      .from(careTeam)
      .innerJoin(users, eq(users.id, careTeam.userId))
      .where(and(eq(careTeam.patientId, patient.patientId), activeAt(at)))
      .orderBy(asc(careTeam.relationship), asc(users.email));
    const members: CareTeamMember[] = (await checkedRows(tx, 'care_team', rows)).map(({ row, intact }) => ({
      assignmentId: row.id,
      userId: row.userId,
      email: row.email,
      displayName: row.displayName,
      relationship: row.relationship,
      fromAt: row.fromAt.toISOString(),
      tampered: !intact,
    }));
    return ok({ patient, members });
  },
});

/** Enabled staff who may be given some care-team relationship, for the assignment form. */
export const assignableStaff = operation({
  ...careTeamReading,
  name: 'admin.care-team.assignable-staff',
  input: z.unknown(),
  run: async ({ tx }) => {
    const eligibleRoles = [...new Set(Object.values(relationshipRoles).flat())];
    const rows = await tx
      .select({ user: macColumns.users, displayName: users.displayName, role: macColumns.user_roles })
      .from(users)
      .innerJoin(userRoles, eq(userRoles.userId, users.id))
      .where(and(isNull(users.disabledAt), inArray(userRoles.roleName, eligibleRoles)))
      .orderBy(asc(users.displayName), asc(users.email));
    // Only accounts and roles Vigil wrote are offered: a forged row would be refused on assignment anyway.
    const byId = new Map<string, Clinician>();
    for (const row of rows) {
      if (!(await intactRow(tx, 'users', row.user)) || !(await intactRow(tx, 'user_roles', row.role))) continue;
      const entry = byId.get(row.user.id) ?? { id: row.user.id, email: row.user.email, displayName: row.displayName, roles: [] };
      entry.roles.push(row.role.roleName);
      byId.set(row.user.id, entry);
    }
    return ok([...byId.values()]);
  },
});

/** A user's current assignments, by patient id only (no lookup, no decryption). */
export const assignmentsOf = operation({
  ...careTeamReading,
  name: 'admin.care-team.of-user',
  input: uuid,
  invalid: notFound,
  run: async ({ tx, input, at }) => {
    const rows = await tx
      .select({ ...macColumns.care_team, fromAt: careTeam.fromAt })
      .from(careTeam)
      .where(and(eq(careTeam.userId, input), activeAt(at)))
      .orderBy(desc(careTeam.fromAt), asc(careTeam.patientId))
      .limit(200);
    return ok(
      (await checkedRows(tx, 'care_team', rows)).map(({ row, intact }): Assignment => ({
        assignmentId: row.id,
        patientId: row.patientId,
        relationship: row.relationship,
        fromAt: row.fromAt.toISOString(),
        tampered: !intact,
      })),
    );
  },
});

const assignSchema = z.object({
  patientId: uuid,
  userId: z.string().uuid('Choose a staff member from the list.'),
  relationship: z.enum(careTeamRelationships, { message: 'Choose a relationship from the list.' }),
});

/** Changing a care team: serialised with every other admin change, the admin re-read under the lock. */
const careTeamChange = {
  resourceType: 'care_team',
  ...adminOnly(adminPermission.assignCareTeams),
  ...serialisedAdminChange,
} as const;

/**
 * Puts a staff member on a patient's care team, which opens the chart to them through the lens
 * of their role. The relationship must fit a role they hold, and nobody assigns themselves, nor
 * an account in their own chain (a puppet admin assigning its maker: lib/domain/access/two-person.ts).
 */
export const assignToCareTeam = operation({
  ...careTeamChange,
  name: 'admin.care-team.assign',
  action: auditActions.careTeam.assign,
  target: (raw) => (raw as { userId?: unknown } | null)?.userId,
  input: assignSchema,
  auditedFailures: ['self_change', 'own_chain'],
  run: async ({ tx, viewer, input, at, audit }): Promise<Result<{ assignmentId: string }, 'invalid' | 'not_found' | 'self_change' | 'own_chain' | 'duplicate'>> => {
    const { patientId, userId, relationship } = input;
    if (userId === viewer.userId) return fail('self_change', adminMessages.self_change);
    if (actsOnOwnChain(await chainOf(tx, viewer.userId), userId)) return fail('own_chain', requestMessages.own_chain);
    const [patient] = await tx.select({ id: patients.id }).from(patients).where(eq(patients.id, patientId)).limit(1);
    if (!patient) return notFound();
    const [user] = await tx.select().from(users).where(eq(users.id, userId)).limit(1);
    // An account or role row altered outside Vigil is treated as the sign-in treats it: disabled, not held.
    if (!user || user.disabledAt || !(await intactRow(tx, 'users', user))) return fail('invalid', adminMessages.invalid, { userId: 'Choose an active staff member from the list.' });
    const held = await heldRoleNames(tx, userId);
    if (!mayHoldRelationship(held, relationship)) {
      return fail('invalid', adminMessages.invalid, {
        relationship: `A ${relationship} assignment needs the ${relationshipRoles[relationship as CareTeamRelationship].join(' or ')} role, which ${user.email} does not hold.`,
      });
    }
    // A forged row does not count as being on the team, so it cannot stand in the way of a real assignment.
    const [existing] = await intactRows(
      tx,
      'care_team',
      await tx.select(macColumns.care_team).from(careTeam).where(and(eq(careTeam.patientId, patientId), eq(careTeam.userId, userId), activeAt(at))),
    );
    if (existing) return fail('duplicate', `${user.email} is already on this care team.`, { userId: 'Already on this care team.' });
    const assignmentId = crypto.randomUUID();
    await tx.insert(careTeam).values(withMac('care_team', { id: assignmentId, patientId, userId, relationship, fromAt: at, untilAt: null, assignedBy: viewer.userId }));
    await audit({ resourceId: assignmentId, patientId, details: { after: { userId, relationship } } });
    return ok({ assignmentId }, `${user.email} added to the care team as ${relationship}.`);
  },
});

/** Ends an assignment now; the row stays (with its end time) as the record of who treated whom. */
export const removeFromCareTeam = operation({
  ...careTeamChange,
  name: 'admin.care-team.unassign',
  action: auditActions.careTeam.unassign,
  target: (raw) => (raw as { assignmentId?: unknown } | null)?.assignmentId,
  input: z.object({ assignmentId: uuid }),
  invalid: notFound,
  auditedFailures: ['self_change'],
  run: async ({ tx, viewer, input, at, audit }): Promise<Result<undefined, 'not_found' | 'self_change'>> => {
    const [row] = await tx
      .select()
      .from(careTeam)
      .where(and(eq(careTeam.id, input.assignmentId), activeAt(at)))
      .limit(1);
    if (!row) return notFound();
    if (row.userId === viewer.userId) return fail('self_change', adminMessages.self_change);
    await updateWithMac(tx, 'care_team', eq(careTeam.id, row.id), { untilAt: at });
    await audit({ resourceId: row.id, patientId: row.patientId, details: { before: { userId: row.userId, relationship: row.relationship }, after: null } });
    return ok(undefined, 'Removed from the care team.');
  },
});
