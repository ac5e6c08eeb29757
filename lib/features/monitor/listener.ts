import 'server-only';
import { and, eq, gt, gte, isNotNull, or, sql } from 'drizzle-orm';
import type { Tx } from '@/db/client';
import { accessCounters, auditLog, incidents } from '@/db/schema';
import type { AuditCompanion, AuditCompanionBuilder, AuditEvent, AuditRecord } from '@/lib/platform/audit';
import { now as clockNow } from '@/lib/platform/clock';
import { classifyAccess, isPhiAction, type AccessFacts } from '@/lib/features/monitor/classify';
import { getMonitorConfig } from '@/lib/features/monitor/config';
import { openIncident } from '@/lib/features/monitor/incidents';
import { falseMatchOneIn, getPatientSurnameIndex, getUserProfile } from '@/lib/features/monitor/profile';
import {
  HOUR_MS,
  evaluateBreadth,
  evaluateDenialBurst,
  evaluateEmergencyLookups,
  evaluateOffHours,
  evaluateSameLastName,
  evaluateVolume,
  hourStart,
  type Finding,
} from '@/lib/domain/monitor/rules';
import { auditActions } from '@/lib/domain/audit/actions';

/** Transactions the monitor is evaluating right now: entries it writes itself are not re-evaluated. */
const evaluating = new WeakSet<Tx>();

/**
 * The audit listener (lib/platform/audit onAudit): runs inside the transaction of every audit entry,
 * right after it is appended. For a PHI access it bumps the user's hourly counter (one upsert,
 * which countAccess sends with the entry's INSERT as one statement) and evaluates the rules
 * against an hourly-cached profile; the rarer, costlier checks (a window over the audit trail)
 * run only once a cheap counter says they could fire. A CRITICAL finding disables the account in
 * this same transaction.
 *
 * The monitor's own entries (incident.open, user.disable) go through recordAudit again from
 * inside this listener: they are not PHI actions, and the re-entrancy guard returns at once
 * for any entry written while this transaction is being evaluated. The chain's advisory lock
 * is taken again by the nested append; PostgreSQL's transaction-level advisory locks are
 * re-entrant within the session holding them, so it does not wait on itself.
 */
export async function monitorAccess(tx: Tx, event: AuditEvent, _record?: AuditRecord, alongside?: unknown[]): Promise<void> {
  if (evaluating.has(tx)) return;
  const facts = classifyAccess(event);
  if (!facts) return;
  evaluating.add(tx);
  try {
    await evaluate(tx, facts, event.occurredAt ?? clockNow(), alongside?.[0] as Counts | undefined);
  } finally {
    evaluating.delete(tx);
  }
}

/**
 * monitorAccess's companion (onAudit): the hourly counter's upsert, for the same entries
 * monitorAccess judges, sent with the entry's INSERT; its RETURNING row reaches monitorAccess as
 * `alongside`. Without it (a listener called on its own) monitorAccess upserts by itself.
 */
export const countAccess: AuditCompanion = (tx, q, event) => {
  if (evaluating.has(tx)) return null;
  const facts = classifyAccess(event);
  return facts ? counterUpsert(q, facts, hourStart(event.occurredAt ?? clockNow())) : null;
};

async function evaluate(tx: Tx, facts: AccessFacts, at: Date, counted: Counts | undefined): Promise<void> {
  const hour = hourStart(at);
  const counts = counted ?? (await bumpCounter(tx, facts, hour));
  const config = await getMonitorConfig(tx);
  const profile = await getUserProfile(tx, facts.userId, hour, config);
  const findings: Finding[] = [];

  if (facts.kind === 'access') {
    const volume = evaluateVolume(
      { at, current: counts.accesses, previous: profile.previous.accesses, baseline: profile.baseline.value, baselineSource: profile.baseline.source },
      config,
    );
    if (volume && !(volume.carriedOver && (await previousHourCleared(tx, facts.userId, hour)))) {
      volume.details.patientIds = await patientsTouched(tx, facts.userId, volume.carriedOver ? new Date(hour.getTime() - HOUR_MS) : hour);
      findings.push(volume);
    }
    const offHours = evaluateOffHours(
      {
        at,
        neverWorksNights: profile.baseline.source === 'user' && profile.baseline.nightActiveHours === 0,
        activeHours: profile.baseline.activeHours,
        patientId: facts.patientId,
      },
      config,
    );
    if (offHours) findings.push(offHours);
    if (config.sameLastName && profile.surname && facts.patientId) {
      const patient = await getPatientSurnameIndex(tx, facts.patientId);
      const sameName = evaluateSameLastName({ at, user: profile.surname, patient, patientId: facts.patientId, falseMatchOneIn });
      if (sameName) findings.push(sameName);
    }
  }

  if (facts.outsideCareTeam && couldReach(counts.outsideCareTeam, profile.previous.outsideCareTeam, config.breadth.windowMinutes, config.breadth.distinctPatients)) {
    const patientIds = await patientsOutsideCareTeam(tx, facts.userId, new Date(at.getTime() - config.breadth.windowMinutes * 60_000));
    const breadth = evaluateBreadth(patientIds, at, config);
    if (breadth) findings.push(breadth);
  }

  if (facts.kind === 'denial' && couldReach(counts.denials, profile.previous.denials, config.denialBurst.windowMinutes, config.denialBurst.high)) {
    const denials = await recentDenials(tx, facts.userId, new Date(at.getTime() - config.denialBurst.windowMinutes * 60_000));
    const burst = evaluateDenialBurst(denials.count, at, config);
    if (burst) {
      burst.details.patientIds = denials.patientIds;
      findings.push(burst);
    }
  }

  if (facts.kind === 'access' && facts.emergencyLookup) {
    const lookups = await recentEmergencyLookups(tx, facts.userId, new Date(at.getTime() - config.emergencyLookups.windowMinutes * 60_000));
    const finding = evaluateEmergencyLookups(lookups, at, config);
    if (finding) findings.push(finding);
  }

  for (const finding of findings) {
    await openIncident(tx, { userId: facts.userId, severity: finding.severity, rule: finding.rule, windowStart: finding.windowStart, details: finding.details, at });
  }
}

interface Counts {
  accesses: number;
  denials: number;
  outsideCareTeam: number;
}

async function bumpCounter(tx: Tx, facts: AccessFacts, hour: Date): Promise<Counts> {
  const [row] = await counterUpsert(tx, facts, hour);
  return row!;
}

/** One upsert per access: the hour's row, created on first use, returns the running totals. */
function counterUpsert(q: AuditCompanionBuilder, facts: AccessFacts, hour: Date) {
  const access = facts.kind === 'access' ? 1 : 0;
  const denial = facts.kind === 'denial' ? 1 : 0;
  const outside = facts.outsideCareTeam ? 1 : 0;
  return q
    .insert(accessCounters)
    .values({ userId: facts.userId, hourStart: hour, accesses: access, denials: denial, outsideCareTeam: outside })
    .onConflictDoUpdate({
      target: [accessCounters.userId, accessCounters.hourStart],
      set: {
        accesses: sql`${accessCounters.accesses} + ${access}`,
        denials: sql`${accessCounters.denials} + ${denial}`,
        outsideCareTeam: sql`${accessCounters.outsideCareTeam} + ${outside}`,
      },
    })
    .returning({ accesses: accessCounters.accesses, denials: accessCounters.denials, outsideCareTeam: accessCounters.outsideCareTeam });
}

/**
 * Could a window of `windowMinutes` ending now hold `needed` events? Two hourly counters bound
 * any window up to an hour from above; only then is the audit trail read.
 */
function couldReach(current: number, previous: number, windowMinutes: number, needed: number): boolean {
  return windowMinutes > 60 || current + previous >= needed;
}

/** A volume case for the previous hour already judged appropriate: its carry-over is not news. */
async function previousHourCleared(tx: Tx, userId: string, hour: Date): Promise<boolean> {
  const [row] = await tx
    .select({ id: incidents.id })
    .from(incidents)
    .where(
      and(
        eq(incidents.userId, userId),
        eq(incidents.rule, 'volume'),
        eq(incidents.status, 'resolved_appropriate'),
        gte(incidents.windowStart, new Date(hour.getTime() - HOUR_MS)),
      ),
    )
    .limit(1);
  return Boolean(row);
}

const MAX_EVIDENCE_IDS = 200;

/** Evidence for a volume case: the patients the user reached since `from` (ids only). */
async function patientsTouched(tx: Tx, userId: string, from: Date): Promise<string[]> {
  const rows = await tx
    .selectDistinct({ patientId: auditLog.patientId })
    .from(auditLog)
    .where(and(eq(auditLog.userId, userId), gte(auditLog.occurredAt, from), isNotNull(auditLog.patientId)))
    .limit(MAX_EVIDENCE_IDS);
  return rows.map((r) => r.patientId!);
}

/** Distinct patients reached outside the care team since `from` (as classify.ts marks them). */
async function patientsOutsideCareTeam(tx: Tx, userId: string, from: Date): Promise<string[]> {
  const rows = await tx
    .selectDistinct({ patientId: auditLog.patientId })
    .from(auditLog)
    .where(
      and(
        eq(auditLog.userId, userId),
        gt(auditLog.occurredAt, from),
        isNotNull(auditLog.patientId),
        or(
          and(isNotNull(auditLog.breakGlassGrantId), eq(auditLog.outcome, 'allowed')),
          and(eq(auditLog.actionType, auditActions.breakGlass.identityView), eq(auditLog.outcome, 'allowed')),
          and(eq(auditLog.outcome, 'denied'), sql`${auditLog.details}->>'reason' = 'no_relationship'`),
        ),
      ),
    )
    .limit(MAX_EVIDENCE_IDS);
  return rows.map((r) => r.patientId!);
}

/**
 * Emergency lookups since `from` that showed someone outside the care team, and the patients
 * shown (ids from each entry's details). A lookup that found no one outside (a clinician typing
 * the MRN of their own patient) disclosed nothing and is not counted.
 */
async function recentEmergencyLookups(tx: Tx, userId: string, from: Date): Promise<{ lookups: number; patientIds: string[] }> {
  const rows = await tx
    .select({ details: auditLog.details })
    .from(auditLog)
    .where(
      and(
        eq(auditLog.userId, userId),
        gt(auditLog.occurredAt, from),
        eq(auditLog.actionType, auditActions.patient.emergencyLookup),
        eq(auditLog.outcome, 'allowed'),
      ),
    );
  const shownBy = rows.map((r) => {
    const ids = (r.details as { shown?: unknown } | null)?.shown;
    return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : [];
  });
  const disclosing = shownBy.filter((ids) => ids.length > 0);
  return { lookups: disclosing.length, patientIds: [...new Set(disclosing.flat())].slice(0, MAX_EVIDENCE_IDS) };
}

/** Refused PHI requests since `from` (sign-in failures and other refusals do not count). */
async function recentDenials(tx: Tx, userId: string, from: Date): Promise<{ count: number; patientIds: string[] }> {
  const rows = await tx
    .select({ action: auditLog.actionType, patientId: auditLog.patientId })
    .from(auditLog)
    .where(and(eq(auditLog.userId, userId), gt(auditLog.occurredAt, from), eq(auditLog.outcome, 'denied')));
  const phi = rows.filter((r) => isPhiAction(r.action));
  const patientIds = [...new Set(phi.map((r) => r.patientId).filter((id): id is string => Boolean(id)))].slice(0, MAX_EVIDENCE_IDS);
  return { count: phi.length, patientIds };
}
