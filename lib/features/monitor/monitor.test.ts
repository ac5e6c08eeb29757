import { createHash, randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { and, asc, eq, gt, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Db, Tx } from '@/db/client';
import { accessCounters, alertOutbox, auditLog, breakGlassGrants, careTeam, incidents, notifications, patients, users } from '@/db/schema';
import { DEMO_PASSWORD, demoCaseload } from '@/db/seed';
import type { Viewer } from '@/lib/domain/access/viewer';
import { recordAudit, type AuditEvent } from '@/lib/platform/audit';
import { verifyChain } from '@/lib/platform/audit/verify';
import { signInWithPassword } from '@/lib/features/auth/login';
import { checkSession } from '@/lib/features/credentials/sessions';
import { advanceClock, now, resetClock } from '@/lib/platform/clock';
import { getPatientCipher, openSystemField, systemDigest } from '@/lib/platform/crypto';
import type { Demographics } from '@/lib/domain/chart/sections';
import { getBreakGlassPrompt } from '@/lib/features/break-glass';
import { getChart } from '@/lib/features/records';
import { auditHead, createStaff, dumpEverything, strangerPatients, testDatabase, userId, viewer as signIn } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { forgetMonitorConfig, saveMonitorConfig } from '@/lib/features/monitor/config';
import { openIncident } from '@/lib/features/monitor/incidents';
import { forgetProfiles } from '@/lib/features/monitor/profile';
import { getIncidentCase } from '@/lib/features/monitor/case-view';
import { getIncidentQueue } from '@/lib/features/monitor/queue';
import { resolveIncident } from '@/lib/features/monitor/resolution';
import { getAdminDashboard } from '@/lib/features/monitor/dashboard';
import { HOUR_MS } from '@/lib/domain/monitor/rules';
import { withMac } from '@/lib/platform/integrity';

let handle: TestDatabase;
let db: Db;
let strangers: string[];

/** Puts the server clock at `iso` (lib/clock): counters, audit times and sessions follow it. */
function setClock(iso: string): Date {
  resetClock();
  advanceClock(new Date(iso).getTime() - Date.now());
  return now();
}

const DAY = '2026-11-20';
/** A reviewer may name a patient in a decision's comment: "Brackenridge" marks it in dumps. */
const RESOLUTION_COMMENT = 'Mass-casualty drill: reviewed every chart, incl. Mrs Brackenridge.';

beforeAll(async () => {
  // A checkpoint file left by a local `npm run audit:verify` must not leak into the dashboard test.
  process.env.VIGIL_AUDIT_CHECKPOINT = path.join(os.tmpdir(), `vigil-monitor-test-${process.pid}.json`);
  handle = await testDatabase({ patients: demoCaseload.billing + 30 });
  db = handle.db;
  strangers = await strangerPatients(db);
});

afterAll(async () => {
  resetClock();
  await handle.close();
});

beforeEach(() => {
  forgetProfiles();
  forgetMonitorConfig();
});

async function teamOf(uid: string): Promise<string[]> {
  const rows = await db.select({ id: careTeam.patientId }).from(careTeam).where(eq(careTeam.userId, uid)).orderBy(asc(careTeam.patientId));
  return rows.map((r) => r.id);
}

/**
 * A normal history: `days` working days before `day`, 09:00–16:59 UTC, with 8–12 accesses
 * an hour (p90 12, so the volume threshold is max(30, 3 × 12) = 36).
 */
async function seedDaytimeHistory(uid: string, day = DAY, days = 14): Promise<void> {
  const rows = [];
  for (let d = 1; d <= days; d++) {
    for (let h = 9; h < 17; h++) {
      const hourStart = new Date(new Date(`${day}T00:00:00Z`).getTime() - d * 24 * HOUR_MS + h * HOUR_MS);
      rows.push({ userId: uid, hourStart, accesses: 8 + ((d * h) % 5), denials: 0, outsideCareTeam: 0 });
    }
  }
  await db.insert(accessCounters).values(rows);
}

async function incidentsOf(uid: string) {
  return db.select().from(incidents).where(eq(incidents.userId, uid)).orderBy(asc(incidents.createdAt));
}

async function isDisabled(uid: string): Promise<boolean> {
  const [user] = await db.select({ disabledAt: users.disabledAt }).from(users).where(eq(users.id, uid));
  return Boolean(user?.disabledAt);
}

/** An audited chart view at `at`, as getChart records it, without the chart reading cost. */
async function auditedView(viewer: Viewer, patientId: string, at: Date, outcome: 'allowed' | 'denied' = 'allowed'): Promise<void> {
  const event: AuditEvent = {
    actor: viewer,
    action: 'chart.view',
    resourceType: 'patient',
    resourceId: patientId,
    patientId,
    outcome,
    occurredAt: at,
    details: outcome === 'denied' ? { reason: 'no_relationship' } : { sections: ['demographics'] },
  };
  setClock(at.toISOString());
  await db.transaction((tx) => recordAudit(tx, event));
}

describe('compromised account: a user with a normal baseline suddenly opens many charts', () => {
  it('opens a CRITICAL case, disables the account and revokes its sessions in the transaction of the access that crossed the threshold', async () => {
    setClock(`${DAY}T10:05:00Z`);
    const viewer = await signIn(db, 'staff01@vigil.test', { at: now() });
    await seedDaytimeHistory(viewer.userId);
    const team = await teamOf(viewer.userId);

    const timeline: Array<{ access: number; sessionValid: boolean; incidents: number }> = [];
    let crossingSeq = 0;
    for (let access = 1; access <= 40; access++) {
      const before = await auditHead(db);
      const chart = await getChart(viewer, team[access % team.length]!);
      expect(chart.ok).toBe(true); // the access that crosses is itself served: it was authorized
      const session = await checkSession(db, viewer.sessionId);
      const open = (await incidentsOf(viewer.userId)).length;
      timeline.push({ access, sessionValid: session.valid, incidents: open });
      if (open && !crossingSeq) crossingSeq = before + 1;
      if (!session.valid) break;
    }

    // 36 accesses are within max(30, 3 × p90 12); the 37th crosses, and the very next check is refused.
    expect(timeline.filter((t) => t.sessionValid)).toHaveLength(36);
    expect(timeline.at(-1)).toEqual({ access: 37, sessionValid: false, incidents: 1 });
    expect(await isDisabled(viewer.userId)).toBe(true);

    const [incident] = await incidentsOf(viewer.userId);
    expect(incident).toMatchObject({ severity: 'CRITICAL', rule: 'volume', status: 'open', windowStart: new Date(`${DAY}T10:00:00Z`) });
    expect(incident!.details).toMatchObject({ accessesThisHour: 37, baseline: 12, baselineSource: 'user', threshold: 36 });
    expect(new Set(incident!.details.patientIds as string[])).toEqual(new Set(team));

    // One transaction, in order: the view that crossed, the case, the containment — and nothing more.
    const entries = await db.select().from(auditLog).where(gt(auditLog.seq, crossingSeq - 1)).orderBy(asc(auditLog.seq));
    expect(entries.slice(0, 3).map((e) => [e.actionType, e.userId])).toEqual([
      ['chart.view', viewer.userId],
      ['incident.open', null],
      ['user.disable', null],
    ]);
    expect(entries[1]!.resourceId).toBe(incident!.id);
    expect(entries[2]).toMatchObject({ resourceId: viewer.userId, details: expect.objectContaining({ incidentId: incident!.id, sessionsRevoked: 1 }) });
    expect(entries[1]!.prevHash).toBe(entries[0]!.hash);
    expect(entries[2]!.prevHash).toBe(entries[1]!.hash);
    expect((await verifyChain({ db })).ok).toBe(true);

    const [notice] = await db.select().from(notifications).where(eq(notifications.link, `/admin/incidents/${incident!.id}`));
    expect(notice).toMatchObject({ audienceRole: 'privacy_officer', kind: 'incident.opened' });
    expect(notice!.message).toContain('Dr. Staff 01');
    expect(notice!.message).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}/);
    const outbox = await db.select().from(alertOutbox);
    expect(outbox.some((o) => o.payload.link === `/admin/incidents/${incident!.id}`)).toBe(true);

    // A new sign-in is refused too.
    const login = await signInWithPassword({ email: 'staff01@vigil.test', password: DEMO_PASSWORD }, { ip: '192.0.2.10', userAgent: 'vitest' }, { at: now() });
    expect(login.ok).toBe(false);
  });
});

describe('false positives', () => {
  it('a simulated week of normal activity at baseline opens no case', async () => {
    const viewer = await signIn(db, 'staff02@vigil.test', { at: new Date(`${DAY}T08:00:00Z`) });
    await seedDaytimeHistory(viewer.userId);
    const team = await teamOf(viewer.userId);
    let accesses = 0;
    for (let day = 0; day < 7; day++) {
      for (let h = 9; h < 17; h++) {
        // 6–16 an hour, spread over the hour; an occasional refused link.
        const n = 6 + ((day * 7 + h * 3) % 11);
        for (let k = 0; k < n; k++) {
          const at = new Date(new Date(`${DAY}T00:00:00Z`).getTime() + day * 24 * HOUR_MS + h * HOUR_MS + Math.floor((k * 60) / n) * 60_000);
          await auditedView(viewer, team[(k + h) % team.length]!, at);
          accesses += 1;
        }
        if (h === 11) await auditedView(viewer, strangers[day]!, new Date(new Date(`${DAY}T11:30:00Z`).getTime() + day * 24 * HOUR_MS), 'denied');
      }
    }
    expect(accesses).toBeGreaterThan(500);
    expect(await incidentsOf(viewer.userId)).toEqual([]);
    expect(await isDisabled(viewer.userId)).toBe(false);
  });

  it('a new user’s first busy shift (60 chart views an hour for 8 hours) does not disable them', async () => {
    const staff = await createStaff(db, { roles: ['physician'] });
    const viewer = await signIn(db, staff.email, { at: new Date(`${DAY}T08:00:00Z`) });
    for (let h = 8; h < 16; h++) {
      for (let k = 0; k < 60; k++) {
        await auditedView(viewer, strangers[k % strangers.length]!, new Date(new Date(`${DAY}T00:00:00Z`).getTime() + h * HOUR_MS + k * 60_000));
      }
    }
    // Judged against the physician default (25 → threshold 75), not against an empty history.
    expect((await incidentsOf(viewer.userId)).filter((i) => i.severity === 'CRITICAL')).toEqual([]);
    expect(await isDisabled(viewer.userId)).toBe(false);
  });

  it('…but a new user above their role’s normal is still contained (76 in an hour)', async () => {
    const staff = await createStaff(db, { roles: ['physician'] });
    const viewer = await signIn(db, staff.email, { at: new Date(`${DAY}T08:00:00Z`) });
    for (let k = 0; k < 75; k++) await auditedView(viewer, strangers[k % strangers.length]!, new Date(`${DAY}T13:10:00Z`));
    expect(await isDisabled(viewer.userId)).toBe(false); // at the threshold: still fine
    await auditedView(viewer, strangers[0]!, new Date(`${DAY}T13:10:00Z`));
    // The volume case, found by rule: with random test keys, a LOW same-surname case can also
    // open when a 12-bit blind index happens to collide (about 1 run in 40), and sort first.
    const incident = (await incidentsOf(viewer.userId)).find((i) => i.rule === 'volume');
    expect(incident).toMatchObject({ rule: 'volume', severity: 'CRITICAL', details: expect.objectContaining({ baselineSource: 'role', threshold: 75 }) });
    expect(await isDisabled(viewer.userId)).toBe(true);
  });
});

describe('rules through the listener', () => {
  it('denied-access burst: HIGH at 10 refusals in 10 minutes, escalated to CRITICAL (and contained) at 30', async () => {
    setClock(`${DAY}T14:02:00Z`);
    const viewer = await signIn(db, 'staff03@vigil.test', { at: now() });
    // Four patients over and over: too few for the breadth rule, enough refusals for this one.
    for (let i = 0; i < 9; i++) await getChart(viewer, strangers[i % 4]!);
    expect(await incidentsOf(viewer.userId)).toEqual([]);
    await getChart(viewer, strangers[1]!);
    let [incident] = await incidentsOf(viewer.userId);
    expect(incident).toMatchObject({ rule: 'denial_burst', severity: 'HIGH', details: expect.objectContaining({ denials: 10 }) });
    expect(incident!.details.patientIds).toHaveLength(4);
    expect(await isDisabled(viewer.userId)).toBe(false);

    // Walking through made-up ids: refusals without a patient count too.
    for (let i = 0; i < 19; i++) await getChart(viewer, randomUUID());
    expect((await incidentsOf(viewer.userId))[0]!.severity).toBe('HIGH');
    await getChart(viewer, randomUUID());
    [incident] = await incidentsOf(viewer.userId);
    expect(await incidentsOf(viewer.userId)).toHaveLength(1); // one case per user, rule and window
    expect(incident).toMatchObject({ severity: 'CRITICAL', status: 'open', details: expect.objectContaining({ denials: 30 }) });
    expect(await isDisabled(viewer.userId)).toBe(true);
    const escalations = await db.select().from(auditLog).where(and(eq(auditLog.actionType, 'incident.escalate'), eq(auditLog.resourceId, incident!.id)));
    expect(escalations).toHaveLength(1);
  });

  it('refusals spread out over the hour stay below the 10-minute burst', async () => {
    const staff = await createStaff(db, { roles: ['physician'] });
    const viewer = await signIn(db, staff.email, { at: new Date(`${DAY}T08:00:00Z`) });
    for (let i = 0; i < 12; i++) await auditedView(viewer, strangers[i % 2]!, new Date(`${DAY}T15:${String(i * 5).padStart(2, '0')}:00Z`), 'denied');
    expect(await incidentsOf(viewer.userId)).toEqual([]);
  });

  it('breadth: the 5th distinct patient reached under break-glass within an hour opens a HIGH case', async () => {
    setClock(`${DAY}T16:05:00Z`);
    const viewer = await signIn(db, 'staff04@vigil.test', { at: now() });
    await db.insert(breakGlassGrants).values(
      strangers.slice(0, 5).map((patientId) =>
        withMac('break_glass_grants', {
          id: randomUUID(),
          userId: viewer.userId,
          patientId,
          sessionId: viewer.sessionId,
          reasonCode: 'emergency_treatment',
          sealedJustification: 'sealed-for-test',
          grantedAt: now(),
          expiresAt: new Date(now().getTime() + HOUR_MS),
          endedAt: null,
          reviewStatus: 'pending',
          reviewerId: null,
          reviewedAt: null,
        }),
      ),
    );
    for (const patientId of strangers.slice(0, 4)) expect((await getChart(viewer, patientId)).ok).toBe(true);
    await getChart(viewer, strangers[0]!); // the same patient again is not breadth
    expect(await incidentsOf(viewer.userId)).toEqual([]);
    await getChart(viewer, strangers[4]!);
    const incident = (await incidentsOf(viewer.userId)).find((i) => i.rule === 'breadth');
    expect(incident).toMatchObject({ rule: 'breadth', severity: 'HIGH', details: expect.objectContaining({ distinctPatients: 5 }) });
    expect(new Set(incident!.details.patientIds as string[])).toEqual(new Set(strangers.slice(0, 5)));
    expect(await isDisabled(viewer.userId)).toBe(false);
  });

  it('breadth counts emergency-access identity prompts too: five patients’ names looked up outside the care team', async () => {
    setClock(`${DAY}T16:20:00Z`);
    const staff = await createStaff(db, { roles: ['nurse'] });
    const viewer = await signIn(db, staff.email, { at: now() });
    for (const patientId of strangers.slice(10, 14)) expect((await getBreakGlassPrompt(viewer, patientId)).ok).toBe(true);
    expect(await incidentsOf(viewer.userId)).toEqual([]);
    await getBreakGlassPrompt(viewer, strangers[14]!);
    expect(await incidentsOf(viewer.userId)).toMatchObject([{ rule: 'breadth', severity: 'HIGH', details: { distinctPatients: 5 } }]);
  });

  it('off-hours: a day-time user opening charts at night gets one MEDIUM case per night; a new user none', async () => {
    const viewer = await signIn(db, 'staff07@vigil.test', { at: new Date(`${DAY}T08:00:00Z`) });
    await seedDaytimeHistory(viewer.userId);
    const team = await teamOf(viewer.userId);
    await auditedView(viewer, team[0]!, new Date(`${DAY}T21:59:00Z`));
    expect(await incidentsOf(viewer.userId)).toEqual([]);
    await auditedView(viewer, team[1]!, new Date(`${DAY}T23:10:00Z`));
    await auditedView(viewer, team[2]!, new Date('2026-11-21T01:30:00Z'));
    const cases = await incidentsOf(viewer.userId);
    expect(cases).toHaveLength(1);
    expect(cases[0]).toMatchObject({ rule: 'off_hours', severity: 'MEDIUM', windowStart: new Date(`${DAY}T22:00:00Z`) });
    expect(new Set(cases[0]!.details.patientIds as string[])).toEqual(new Set([team[1], team[2]]));
    expect(cases[0]!.details.localHour).toBe(1); // the evidence follows the latest access
    expect(await isDisabled(viewer.userId)).toBe(false);

    const newcomer = await createStaff(db, { roles: ['nurse'] });
    const nurse = await signIn(db, newcomer.email, { at: new Date(`${DAY}T08:00:00Z`) });
    await auditedView(nurse, strangers[0]!, new Date(`${DAY}T23:10:00Z`));
    expect(await incidentsOf(nurse.userId)).toEqual([]);
  });

  it('same last name: LOW when the patient’s surname blind indexes match the user’s, without decrypting anything to compare', async () => {
    setClock(`${DAY}T11:05:00Z`);
    const uid = await userId(db, 'staff06@vigil.test');
    const team = await teamOf(uid);
    const { cipher } = await getPatientCipher(db, team[0]!);
    const [row] = await db.select().from(patients).where(eq(patients.id, team[0]!));
    const familyName = cipher!.open<Demographics>('patients', 'sealed_demographics', row!.id, row!.sealedDemographics).familyName;
    await db.update(users).set({ displayName: `Dr. Rowan ${familyName.toUpperCase()}` }).where(eq(users.id, uid));
    const viewer = await signIn(db, 'staff06@vigil.test', { at: now() });

    const others = await db.select().from(patients).where(inArray(patients.id, team.slice(1)));
    const differentName = others.find((p) => p.lastNameIndex !== row!.lastNameIndex)!;
    await getChart(viewer, differentName.id);
    expect(await incidentsOf(uid)).toEqual([]);
    await getChart(viewer, team[0]!);
    const [incident] = await incidentsOf(uid);
    expect(incident).toMatchObject({ rule: 'same_last_name', severity: 'LOW', details: expect.objectContaining({ patientIds: [team[0]], falseMatchOneIn: 4096 }) });
    expect(JSON.stringify(incident!.details)).not.toContain(familyName);
    expect(await isDisabled(uid)).toBe(false);
  });
});

describe('containment mechanics', () => {
  it('a nested append from inside the listener re-takes the chain lock in the same transaction without waiting on itself', async () => {
    setClock(`${DAY}T12:05:00Z`);
    const staff = await createStaff(db, { roles: ['nurse'] });
    const before = await auditHead(db);
    const outcome = await Promise.race([
      db.transaction(async (tx: Tx) => {
        await recordAudit(tx, { actor: { userId: staff.id }, action: 'chart.view', resourceType: 'patient', outcome: 'allowed' });
        return openIncident(tx, { userId: staff.id, severity: 'CRITICAL', rule: 'volume', windowStart: new Date(`${DAY}T12:00:00Z`), details: { test: true } });
      }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the nested append waited on its own lock')), 10_000)),
    ]);
    expect(outcome).toMatchObject({ opened: true, contained: true });
    const written = await db.select({ action: auditLog.actionType }).from(auditLog).where(gt(auditLog.seq, before)).orderBy(asc(auditLog.seq));
    expect(written.map((w) => w.action)).toEqual(['chart.view', 'incident.open', 'user.disable']);
    expect((await verifyChain({ db })).ok).toBe(true);
  });

  it('honours settings: a lower floor from the settings row applies to the next access', async () => {
    setClock(`${DAY}T09:05:00Z`);
    await saveMonitorConfig(db, { volumeFloor: 5, roleBaselines: { physician: 1 } }, null);
    try {
      const staff = await createStaff(db, { roles: ['physician'] });
      const viewer = await signIn(db, staff.email, { at: now() });
      for (let k = 0; k < 5; k++) await auditedView(viewer, strangers[k]!, now());
      expect(await isDisabled(viewer.userId)).toBe(false);
      await auditedView(viewer, strangers[5]!, now());
      expect(await isDisabled(viewer.userId)).toBe(true);
    } finally {
      await saveMonitorConfig(db, {}, null);
    }
  });
});

describe('privacy officer review', () => {
  let privacy: Viewer;
  let physician: Viewer;

  beforeAll(async () => {
    privacy = await signIn(db, 'privacy@vigil.test', { at: new Date(`${DAY}T10:30:00Z`) });
    physician = await signIn(db, 'physician@vigil.test', { at: new Date(`${DAY}T10:30:00Z`) });
  });

  async function caseOf(email: string, rule: string) {
    const uid = await userId(db, email);
    const [incident] = await db.select().from(incidents).where(and(eq(incidents.userId, uid), eq(incidents.rule, rule)));
    return incident!;
  }

  it('shows the queue grouped by user, most severe open cases first', async () => {
    const queue = await getIncidentQueue(privacy, 'open');
    if (!queue.ok) throw new Error('denied');
    const subjects = queue.value.map((g) => g.user.id);
    expect(new Set(subjects).size).toBe(subjects.length);
    expect(queue.value[0]!.topSeverity).toBe('CRITICAL');
    const staff01 = queue.value.find((g) => g.user.email === 'staff01@vigil.test')!;
    expect(staff01).toMatchObject({ openCases: 1, user: { disabled: true, disabledByMonitor: true } });
    expect(await getIncidentQueue(physician, 'open')).toMatchObject({ ok: false, error: 'denied' });
  });

  it('shows a case with the hourly chart against the baseline and threshold, and audits the view', async () => {
    const incident = await caseOf('staff01@vigil.test', 'volume');
    setClock(`${DAY}T10:40:00Z`);
    const result = await getIncidentCase(privacy, incident.id);
    if (!result.ok) throw new Error(result.error);
    const spike = result.value.series.find((p) => p.hour === `${DAY}T10:00:00.000Z`);
    expect(spike?.accesses).toBe(37);
    expect(result.value.series.some((p) => p.accesses >= 8 && p.accesses <= 12)).toBe(true);
    expect(result.value).toMatchObject({ threshold: 36, baseline: { value: 12, source: 'user' } });
    expect(result.value.evidence).toContainEqual({ label: 'Accesses this hour', value: '37' });
    expect(JSON.stringify(result.value.series)).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);
    const [view] = await db.select().from(auditLog).where(and(eq(auditLog.actionType, 'incident.view'), eq(auditLog.resourceId, incident.id)));
    expect(view).toMatchObject({ userId: privacy.userId, outcome: 'allowed' });
    expect(await getIncidentCase(physician, incident.id)).toMatchObject({ ok: false, error: 'denied' });
    expect(await getIncidentCase(privacy, randomUUID())).toMatchObject({ ok: false, error: 'not_found' });
  });

  it('refuses a decision without a real comment, from someone without the permission, or on one’s own case', async () => {
    const incident = await caseOf('staff01@vigil.test', 'volume');
    expect(await resolveIncident(privacy, { incidentId: incident.id, decision: 'appropriate', comment: '  ok  ' })).toMatchObject({ ok: false, error: 'invalid' });
    expect(await resolveIncident(physician, { incidentId: incident.id, decision: 'appropriate', comment: 'Covering the whole ward today.' })).toMatchObject({ ok: false, error: 'denied' });
    const refused = await db.select().from(auditLog).where(and(eq(auditLog.actionType, 'incident.resolve'), eq(auditLog.userId, physician.userId)));
    expect(refused).toHaveLength(1);
    expect(refused[0]!.outcome).toBe('denied');

    const own = await db.transaction((tx) =>
      openIncident(tx, { userId: privacy.userId, severity: 'LOW', rule: 'same_last_name', windowStart: new Date(`${DAY}T00:00:00Z`), details: {} }),
    );
    expect(await resolveIncident(privacy, { incidentId: own!.incidentId, decision: 'appropriate', comment: 'It is my own relative, fine.' })).toMatchObject({ ok: false, error: 'own_case' });
    expect(await isDisabled(incident.userId)).toBe(true);
  });

  it('resolving as appropriate re-enables the account (audited); the rest of that hour does not re-open the case', async () => {
    const incident = await caseOf('staff01@vigil.test', 'volume');
    setClock(`${DAY}T10:45:00Z`);
    const before = await auditHead(db);
    const result = await resolveIncident(privacy, { incidentId: incident.id, decision: 'appropriate', comment: RESOLUTION_COMMENT });
    expect(result).toMatchObject({ ok: true, value: { status: 'resolved_appropriate', reEnabled: true } });
    const entries = await db.select().from(auditLog).where(gt(auditLog.seq, before)).orderBy(asc(auditLog.seq));
    expect(entries.map((e) => [e.actionType, e.userId])).toEqual([
      ['incident.resolve', privacy.userId],
      ['user.enable', privacy.userId],
    ]);
    // A keyed digest: a plain SHA-256 of the comment would let a reader of the log confirm a guess.
    expect(entries[0]!.details).toMatchObject({ decision: 'resolved_appropriate', commentHmac: systemDigest('incidents.resolution_comment', RESOLUTION_COMMENT) });
    expect(entries[0]!.details!.commentHmac).not.toBe(createHash('sha256').update(RESOLUTION_COMMENT).digest('hex'));
    expect(JSON.stringify(entries[0])).not.toMatch(/drill|Brackenridge/);
    expect(await isDisabled(incident.userId)).toBe(false);
    expect(await resolveIncident(privacy, { incidentId: incident.id, decision: 'confirmed', comment: 'Changed my mind about it.' })).toMatchObject({
      ok: false,
      error: 'already_resolved',
    });

    const login = await signInWithPassword({ email: 'staff01@vigil.test', password: DEMO_PASSWORD }, { ip: '192.0.2.11', userAgent: 'vitest' }, { at: now() });
    expect(login.ok).toBe(true);
    const viewer = await signIn(db, 'staff01@vigil.test', { at: now() });
    await getChart(viewer, (await teamOf(viewer.userId))[0]!);
    // Early in the next hour the carried-over count still exceeds the threshold: the case judged appropriate stays closed.
    setClock(`${DAY}T11:02:00Z`);
    await getChart(viewer, (await teamOf(viewer.userId))[1]!);
    expect(await isDisabled(viewer.userId)).toBe(false);
    expect(await incidentsOf(viewer.userId)).toHaveLength(1);
  });

  it('seals the comment with the system key, bound to the case, and shows it on the case page', async () => {
    const incident = await caseOf('staff01@vigil.test', 'volume');
    const [row] = await db.select().from(incidents).where(eq(incidents.id, incident.id));
    expect(row!.sealedResolutionComment).not.toMatch(/drill|Brackenridge/);
    expect(openSystemField('incidents', 'sealed_resolution_comment', incident.id, row!.sealedResolutionComment!)).toBe(RESOLUTION_COMMENT);
    const { text } = await dumpEverything(db);
    expect(text).toContain(incident.id);
    expect(text).not.toMatch(/Brackenridge/i);

    const shown = await getIncidentCase(privacy, incident.id);
    if (!shown.ok) throw new Error(shown.error);
    expect(shown.value.incident).toMatchObject({ status: 'resolved_appropriate', resolutionComment: { status: 'shown', text: RESOLUTION_COMMENT } });

    // Moved onto another case, the ciphertext does not open there: it reads as unavailable.
    const other = await caseOf('staff03@vigil.test', 'denial_burst');
    await db.update(incidents).set({ sealedResolutionComment: row!.sealedResolutionComment }).where(eq(incidents.id, other.id));
    const moved = await getIncidentCase(privacy, other.id);
    expect(moved.ok && moved.value.incident.resolutionComment).toEqual({ status: 'unavailable' });
    await db.update(incidents).set({ sealedResolutionComment: null }).where(eq(incidents.id, other.id));
  });

  it('confirming keeps the account disabled', async () => {
    const incident = await caseOf('staff03@vigil.test', 'denial_burst');
    const result = await resolveIncident(privacy, { incidentId: incident.id, decision: 'confirmed', comment: 'Probing ids from a script: referred to HR and security.' });
    expect(result).toMatchObject({ ok: true, value: { status: 'confirmed', reEnabled: false } });
    expect(await isDisabled(incident.userId)).toBe(true);
  });

  it('the dashboard shows counts to admins and privacy officers only', async () => {
    setClock(`${DAY}T16:30:00Z`);
    const admin = await signIn(db, 'admin@vigil.test', { at: now() });
    const result = await getAdminDashboard(admin);
    expect(result.ok).toBe(true);
    const dashboard = result.ok ? result.value : null;
    expect(dashboard!.accessesByHour).toHaveLength(24);
    expect(dashboard!.accessesByHour.find((h) => h.hour === `${DAY}T10:00:00.000Z`)!.accesses).toBeGreaterThanOrEqual(37);
    expect(dashboard!.incidents.open).toBeGreaterThan(0);
    expect(dashboard!.breakGlass.active).toBe(5);
    expect(dashboard!.chain.ok).toBe(true);
    expect(await getAdminDashboard(physician)).toMatchObject({ ok: false, error: 'denied' });
  });
});
