import 'server-only';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable, Tx } from '@/db/client';
import { patients } from '@/db/schema';
import { adminPermission } from '@/lib/domain/access/permission-names';
import { hasAdminPermission } from '@/lib/domain/access/policy';
import type { Viewer } from '@/lib/domain/access/viewer';
import { recordAudit } from '@/lib/platform/audit';
import { blindIndex, DecryptionError, getPatientCiphers, normaliseMrn } from '@/lib/platform/crypto';
import type { Demographics } from '@/lib/domain/chart/sections';
import { auditActions } from '@/lib/domain/audit/actions';

/**
 * How administrators name a patient when they manage care teams: the patient id and the MRN,
 * nothing else. An admin holds an MRN from the admission paperwork and needs to know they are
 * editing the right patient's team; name, date of birth and every clinical field stay sealed.
 * Both lookups decrypt demographics on the server to read the MRN and are audited, in the
 * transaction of the admin operation that asks (lib/features/admin/care-teams.ts).
 */
export interface PatientReference {
  patientId: string;
  mrn: string;
}

export const mrnQuerySchema = z
  .string()
  .trim()
  .min(1, 'Enter the patient’s MRN.')
  .max(32, 'An MRN has at most 32 characters.')
  .regex(/^[A-Za-z0-9 -]+$/, 'An MRN has only letters, digits, spaces and dashes.');

const uuid = z.string().uuid();

/** Finds the patient with this exact MRN (blind-index candidates, then the sealed value). */
export async function findPatientByMrn(tx: Tx, viewer: Viewer, mrn: string): Promise<PatientReference | null> {
  const query = mrnQuerySchema.safeParse(mrn);
  const allowed = hasAdminPermission(viewer, adminPermission.readCareTeams);
  let found: PatientReference | null = null;
  if (allowed && query.success) {
    const candidates = await tx
      .select({ id: patients.id, sealed: patients.sealedDemographics })
      .from(patients)
      .where(eq(patients.mrnIndex, blindIndex('mrn', query.data)));
    const wanted = normaliseMrn(query.data);
    found = (await openMrns(tx, candidates)).find((c) => normaliseMrn(c.mrn) === wanted) ?? null;
  }
  await auditLookup(tx, viewer, allowed, found, 'mrn');
  return found;
}

/** The MRN of a patient an admin reached by id (a link from a user's assignments). */
export async function patientReference(tx: Tx, viewer: Viewer, patientId: string): Promise<PatientReference | null> {
  const allowed = hasAdminPermission(viewer, adminPermission.readCareTeams);
  let found: PatientReference | null = null;
  if (allowed && uuid.safeParse(patientId).success) {
    const rows = await tx
      .select({ id: patients.id, sealed: patients.sealedDemographics })
      .from(patients)
      .where(eq(patients.id, patientId))
      .limit(1);
    found = (await openMrns(tx, rows))[0] ?? null;
  }
  await auditLookup(tx, viewer, allowed, found, 'id');
  return found;
}

async function openMrns(db: Queryable, rows: Array<{ id: string; sealed: string }>): Promise<PatientReference[]> {
  if (rows.length === 0) return [];
  const { ciphers } = await getPatientCiphers(db, rows.map((r) => r.id));
  const references: PatientReference[] = [];
  for (const row of rows) {
    const cipher = ciphers.get(row.id);
    if (!cipher) continue;
    try {
      references.push({ patientId: row.id, mrn: cipher.open<Demographics>('patients', 'sealed_demographics', row.id, row.sealed).mrn });
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
    }
  }
  return references;
}

async function auditLookup(tx: Tx, viewer: Viewer, allowed: boolean, found: PatientReference | null, by: 'mrn' | 'id'): Promise<void> {
  await recordAudit(tx, {
    actor: viewer,
    action: auditActions.patient.lookup,
    resourceType: 'patient',
    resourceId: found?.patientId ?? null,
    patientId: found?.patientId ?? null,
    outcome: allowed ? 'allowed' : 'denied',
    details: allowed ? { by, purpose: 'care_team', found: Boolean(found) } : { by, reason: 'no_permission' },
  });
}
