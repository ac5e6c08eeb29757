import 'server-only';
import { eq } from 'drizzle-orm';
import type { Queryable } from '@/db/client';
import { patients } from '@/db/schema';
import { isUuid } from '@/lib/domain/ids';

/**
 * The patient an emergency-access request names, if it exists: refusals then record the patient
 * (the accounting of disclosures lists attempts on a chart), and never an id that matches nobody.
 */
export async function existingPatient(q: Queryable, patientId: string): Promise<string | null> {
  if (!isUuid(patientId)) return null;
  const [row] = await q.select({ id: patients.id }).from(patients).where(eq(patients.id, patientId)).limit(1);
  return row?.id ?? null;
}

/** The patient id of a raw request, kept only if it has a uuid's shape. */
export function patientTarget(raw: unknown): string | null {
  const id = typeof raw === 'string' ? raw : (raw as { patientId?: unknown } | null)?.patientId;
  return typeof id === 'string' && isUuid(id) ? id : null;
}
