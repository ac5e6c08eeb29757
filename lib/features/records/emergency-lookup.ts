import 'server-only';
import { and, eq } from 'drizzle-orm';
import { z } from 'zod';
import { patients } from '@/db/schema';
import { emergencyPermission } from '@/lib/domain/access/permission-names';
import { auditActions } from '@/lib/domain/audit/actions';
import type { Demographics } from '@/lib/domain/chart/sections';
import { emergencyQueryMessages, parseEmergencyQuery, type EmergencyQuery } from '@/lib/domain/records/emergency-query';
import { fail, ok, type Result } from '@/lib/domain/result';
import { operation } from '@/lib/pipeline/operation';
import { reachablePatientRows } from '@/lib/pipeline/relationship';
import { blindIndex, DecryptionError, getPatientCiphers, normaliseMrn, normaliseName } from '@/lib/platform/crypto';

/**
 * A patient outside the viewer's care team, found by exact identifiers: just enough to confirm
 * identity at the bedside before asking for emergency access. Nothing else is decrypted for it,
 * and this shape is all that leaves the server.
 */
export interface RestrictedRow {
  id: string;
  name: string;
  sex: string;
  dateOfBirth: string;
  mrn: string;
}

export interface EmergencyLookup {
  searchedBy: EmergencyQuery['kind'];
  rows: RestrictedRow[];
}

/** A last name with a date of birth can match several people; more than this is not a bedside answer. */
export const EMERGENCY_LOOKUP_LIMIT = 10;

const lookupInput = z
  .object({ q: z.string().max(100, emergencyQueryMessages.too_broad) })
  .transform((value, ctx) => {
    const parsed = parseEmergencyQuery(value.q);
    if (parsed.ok) return parsed.query;
    ctx.addIssue({ code: 'custom', message: emergencyQueryMessages[parsed.refusal] });
    return z.NEVER;
  });

/** Blind-index candidates across every patient; each is then checked against its decrypted value. */
function candidateFilter(query: EmergencyQuery) {
  return query.kind === 'mrn'
    ? eq(patients.mrnIndex, blindIndex('mrn', query.mrn))
    : and(eq(patients.lastNameIndex, blindIndex('last_name', query.lastName)), eq(patients.dobIndex, blindIndex('dob', query.dateOfBirth)));
}

function matches(query: EmergencyQuery, d: Demographics): boolean {
  return query.kind === 'mrn'
    ? normaliseMrn(d.mrn) === normaliseMrn(query.mrn)
    : d.dateOfBirth === query.dateOfBirth && normaliseName(d.familyName) === normaliseName(query.lastName);
}

/**
 * The emergency lookup: for a clinician who may ask for break-glass, the patients outside their
 * care team (and outside this sign-in's grants, which the ordinary list already shows) whose MRN,
 * or last name and date of birth, match exactly. A query that is not exact enough is refused
 * before anything runs, with the reason (`too_broad`). Every lookup is audited with its kind, the
 * number found and the ids shown; the query itself is PHI and is not stored. Monitoring counts
 * these lookups with a rule of their own.
 */
export const emergencyLookup = operation({
  name: 'records.patient.emergency-lookup',
  action: auditActions.patient.emergencyLookup,
  resourceType: 'patient',
  permission: { category: 'emergency', name: emergencyPermission.breakGlass },
  deniedMessage: 'Emergency lookup is for physicians and nurses treating a patient.',
  input: lookupInput,
  invalid: (error) => fail('too_broad', error.issues[0]?.message ?? emergencyQueryMessages.too_broad),
  run: async ({ tx, viewer, input: query, at, audit }): Promise<Result<EmergencyLookup, 'too_broad'>> => {
    // The viewer's own among the candidates only: their whole caseload is not read for an exact identifier.
    const own = new Set((await reachablePatientRows(tx, viewer, at, { columns: {}, where: candidateFilter(query) })).map((r) => r.patientId));
    const candidates = (
      await tx.select({ id: patients.id, sealed: patients.sealedDemographics }).from(patients).where(candidateFilter(query))
    ).filter((c) => !own.has(c.id));
    const { ciphers } = await getPatientCiphers(tx, candidates.map((c) => c.id));
    const rows: RestrictedRow[] = [];
    for (const candidate of candidates) {
      const cipher = ciphers.get(candidate.id);
      if (!cipher) continue; // shredded: there is no one left to identify
      let d: Demographics;
      try {
        d = cipher.open<Demographics>('patients', 'sealed_demographics', candidate.id, candidate.sealed);
      } catch (error) {
        if (!(error instanceof DecryptionError)) throw error;
        continue;
      }
      if (!matches(query, d)) continue;
      rows.push({ id: candidate.id, name: `${d.familyName}, ${d.givenName}`, sex: d.sex, dateOfBirth: d.dateOfBirth, mrn: d.mrn });
    }
    rows.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
    const shown = rows.slice(0, EMERGENCY_LOOKUP_LIMIT);
    await audit({
      // One patient shown is that patient's disclosure; several are listed in the details.
      patientId: shown.length === 1 ? shown[0]!.id : null,
      details: { searchedBy: query.kind, results: rows.length, shown: shown.map((r) => r.id) },
    });
    return ok({ searchedBy: query.kind, rows: shown });
  },
});
