import 'server-only';
import { and, asc, desc, eq, gt, inArray, isNull, or } from 'drizzle-orm';
import { z } from 'zod';
import { getDb } from '@/db/client';
import { careTeam, patients, userRoles, users } from '@/db/schema';
import { adminPermission } from '@/lib/domain/access/admin-rules';
import { careTeamRelationships, mayHoldRelationship, relationshipRoles, type CareTeamRelationship } from '@/lib/domain/access/care-team';
import type { Viewer } from '@/lib/domain/access/viewer';
import { now as clockNow } from '@/lib/platform/clock';
import { findPatientByMrn, mrnQuerySchema, patientReference, type PatientReference } from '@/lib/features/records';
import { adminChange, mayRead } from '@/lib/features/admin/change';
import { done, fieldErrorsOf, invalidInput, refuse, type AdminResult } from '@/lib/features/admin/result';

export interface CareTeamMember {
  assignmentId: string;
  userId: string;
  email: string;
  displayName: string;
  relationship: string;
  fromAt: string;
}

export interface Clinician {
  id: string;
  email: string;
  displayName: string;
  roles: string[];
}

const activeAt = (at: Date) => or(isNull(careTeam.untilAt), gt(careTeam.untilAt, at));
const uuid = z.string().uuid('Reload the page and try again.');

/** The patient an admin names by MRN (see lib/features/records/lookup.ts for why only the MRN). */
export async function findPatient(viewer: Viewer, mrn: unknown): Promise<AdminResult<PatientReference>> {
  const query = mrnQuerySchema.safeParse(mrn);
  if (!query.success) {
    const message = query.error.issues[0]?.message ?? 'Enter the patient’s MRN.';
    return invalidInput({ mrn: message }, message);
  }
  if (!(await mayRead(viewer, adminPermission.readCareTeams, 'care_team'))) return refuse('denied');
  const found = await findPatientByMrn(viewer, query.data);
  return found ? done(found, '') : invalidInput({ mrn: 'No patient has that MRN.' }, 'No patient has that MRN.');
}

/** A patient's current care team, named by id and MRN only. */
export async function careTeamOf(viewer: Viewer, patientId: string): Promise<AdminResult<{ patient: PatientReference; members: CareTeamMember[] }>> {
  if (!(await mayRead(viewer, adminPermission.readCareTeams, 'care_team'))) return refuse('denied');
  const patient = await patientReference(viewer, patientId);
  if (!patient) return refuse('not_found');
  const db = await getDb();
  const rows = await db
    .select({
      assignmentId: careTeam.id,
      userId: users.id,
      email: users.email,
      displayName: users.displayName,
      relationship: careTeam.relationship,
      fromAt: careTeam.fromAt,
    })
    .from(careTeam)
    .innerJoin(users, eq(users.id, careTeam.userId))
    .where(and(eq(careTeam.patientId, patient.patientId), activeAt(clockNow())))
    .orderBy(asc(careTeam.relationship), asc(users.email));
  return done({ patient, members: rows.map((r) => ({ ...r, fromAt: r.fromAt.toISOString() })) }, '');
}

/** Enabled staff who may be given some care-team relationship, for the assignment form. */
export async function assignableStaff(viewer: Viewer): Promise<AdminResult<Clinician[]>> {
  if (!(await mayRead(viewer, adminPermission.readCareTeams, 'care_team'))) return refuse('denied');
  const db = await getDb();
  const eligibleRoles = [...new Set(Object.values(relationshipRoles).flat())];
  const rows = await db
    .select({ id: users.id, email: users.email, displayName: users.displayName, role: userRoles.roleName })
    .from(users)
    .innerJoin(userRoles, eq(userRoles.userId, users.id))
    .where(and(isNull(users.disabledAt), inArray(userRoles.roleName, eligibleRoles)))
    .orderBy(asc(users.displayName), asc(users.email));
  const byId = new Map<string, Clinician>();
  for (const row of rows) {
    const entry = byId.get(row.id) ?? { id: row.id, email: row.email, displayName: row.displayName, roles: [] };
    entry.roles.push(row.role);
    byId.set(row.id, entry);
  }
  return done([...byId.values()], '');
}

/** A user's current assignments, by patient id only (no lookup, no decryption). */
export async function assignmentsOf(viewer: Viewer, userId: string): Promise<AdminResult<Array<{ assignmentId: string; patientId: string; relationship: string; fromAt: string }>>> {
  if (!(await mayRead(viewer, adminPermission.readCareTeams, 'care_team'))) return refuse('denied');
  if (!uuid.safeParse(userId).success) return refuse('not_found');
  const db = await getDb();
  const rows = await db
    .select({ assignmentId: careTeam.id, patientId: careTeam.patientId, relationship: careTeam.relationship, fromAt: careTeam.fromAt })
    .from(careTeam)
    .where(and(eq(careTeam.userId, userId), activeAt(clockNow())))
    .orderBy(desc(careTeam.fromAt), asc(careTeam.patientId))
    .limit(200);
  return done(rows.map((r) => ({ ...r, fromAt: r.fromAt.toISOString() })), '');
}

export const assignSchema = z.object({
  patientId: uuid,
  userId: z.string().uuid('Choose a staff member from the list.'),
  relationship: z.enum(careTeamRelationships, { message: 'Choose a relationship from the list.' }),
});

/**
 * Puts a staff member on a patient's care team, which opens the chart to them through the lens
 * of their role. The relationship must fit a role they hold, and nobody assigns themselves.
 */
export async function assignToCareTeam(viewer: Viewer, input: unknown): Promise<AdminResult<{ assignmentId: string }>> {
  const target = (input as { userId?: unknown } | null)?.userId;
  return adminChange(viewer, { permission: adminPermission.assignCareTeams, action: 'care_team.assign', resourceType: 'care_team', target }, async (ctx) => {
    const parsed = assignSchema.safeParse(input);
    if (!parsed.success) return invalidInput(fieldErrorsOf(parsed.error));
    const { patientId, userId, relationship } = parsed.data;
    if (userId === viewer.userId) return refuse('self_change');
    const [patient] = await ctx.tx.select({ id: patients.id }).from(patients).where(eq(patients.id, patientId)).limit(1);
    if (!patient) return refuse('not_found');
    const [user] = await ctx.tx.select().from(users).where(eq(users.id, userId)).limit(1);
    if (!user || user.disabledAt) return invalidInput({ userId: 'Choose an active staff member from the list.' });
    const held = (await ctx.tx.select({ name: userRoles.roleName }).from(userRoles).where(eq(userRoles.userId, userId))).map((r) => r.name);
    if (!mayHoldRelationship(held, relationship)) {
      return invalidInput({ relationship: `A ${relationship} assignment needs the ${relationshipRoles[relationship as CareTeamRelationship].join(' or ')} role, which ${user.email} does not hold.` });
    }
    const at = clockNow();
    const [existing] = await ctx.tx
      .select({ id: careTeam.id })
      .from(careTeam)
      .where(and(eq(careTeam.patientId, patientId), eq(careTeam.userId, userId), activeAt(at)))
      .limit(1);
    if (existing) return { ok: false, error: 'duplicate', message: `${user.email} is already on this care team.`, fieldErrors: { userId: 'Already on this care team.' } };
    const assignmentId = crypto.randomUUID();
    await ctx.tx.insert(careTeam).values({ id: assignmentId, patientId, userId, relationship, fromAt: at, assignedBy: viewer.userId });
    await ctx.audit({ resourceId: assignmentId, patientId, details: { after: { userId, relationship } } });
    return done({ assignmentId }, `${user.email} added to the care team as ${relationship}.`);
  });
}

/** Ends an assignment now; the row stays (with its end time) as the record of who treated whom. */
export async function removeFromCareTeam(viewer: Viewer, input: unknown): Promise<AdminResult<undefined>> {
  const target = (input as { assignmentId?: unknown } | null)?.assignmentId;
  return adminChange(viewer, { permission: adminPermission.assignCareTeams, action: 'care_team.unassign', resourceType: 'care_team', target }, async (ctx) => {
    const parsed = z.object({ assignmentId: uuid }).safeParse(input);
    if (!parsed.success) return refuse('not_found');
    const at = clockNow();
    const [row] = await ctx.tx
      .select()
      .from(careTeam)
      .where(and(eq(careTeam.id, parsed.data.assignmentId), activeAt(at)))
      .limit(1);
    if (!row) return refuse('not_found');
    if (row.userId === viewer.userId) return refuse('self_change');
    await ctx.tx.update(careTeam).set({ untilAt: at }).where(eq(careTeam.id, row.id));
    await ctx.audit({ resourceId: row.id, patientId: row.patientId, details: { before: { userId: row.userId, relationship: row.relationship }, after: null } });
    return done(undefined, 'Removed from the care team.');
  });
}
