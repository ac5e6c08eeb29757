/**
 * Break-glass end to end through lib/: who may ask, what a request must contain, what a grant
 * opens and for how long, what it leaves in the audit chain, and the privacy officer's review.
 */
import { randomUUID } from 'node:crypto';
import { and, asc, count, desc, eq, gt, gte, sum } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '@/db/client';
import { accessCounters, alertOutbox, auditLog, breakGlassGrants, careTeam, incidents, notifications, patients, userRoles, users } from '@/db/schema';
import { DEMO_PASSWORD } from '@/db/seed';
import type { Viewer } from '@/lib/domain/access/viewer';
import { isPhiAccess } from '@/lib/domain/audit/actions';
import { accountingOfDisclosures } from '@/lib/features/audit-review/disclosures';
import { verifyChain } from '@/lib/platform/audit/verify';
import { endSession } from '@/lib/features/auth/sign-out';
import { advanceClock, now, resetClock } from '@/lib/platform/clock';
import { DecryptionError, getPatientCipher } from '@/lib/platform/crypto';
import { insertRoleRows, withMac } from '@/lib/platform/integrity';
import { shredPatient } from '@/lib/ops/keys/shred';
import { addEntry, getChart } from '@/lib/features/records';
import { dumpEverything, testDatabase, viewer as signIn } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import {
  getBreakGlassPrompt,
  getGrantReview,
  grantMessages,
  justificationMessages,
  listRefusedRequests,
  listReviewQueue,
  requestGrant,
  revealGrantSealed,
  reviewGrant,
  setWindowMinutes,
} from '@/lib/features/break-glass';

let handle: TestDatabase;
let db: Db;
let patientIds: string[];
let physician2: Viewer;
let privacy: Viewer;

const JUSTIFICATION = 'Unresponsive in ED resus 2, BP <80 & HR >130; treating team unreachable, need meds and allergies.';
/** A reviewer may name the patient in a comment: "Quillmoor" marks it in dumps and logs. */
const REVIEW_COMMENT = 'Confirmed with ED charge nurse: Mr Quillmoor was the resus patient.';

const request = (patientId: string, overrides: Record<string, unknown> = {}) => ({
  patientId,
  reasonCode: 'emergency_treatment',
  justification: JUSTIFICATION,
  secret: DEMO_PASSWORD,
  ...overrides,
});

async function grantsFor(userId: string) {
  return db.select().from(breakGlassGrants).where(eq(breakGlassGrants.userId, userId));
}

/** The newest entry's seq, to see what one call writes. */
async function headSeq(): Promise<number> {
  const [row] = await db.select({ seq: auditLog.seq }).from(auditLog).orderBy(desc(auditLog.seq)).limit(1);
  return row?.seq ?? 0;
}

async function entriesAfter(seq: number) {
  return db.select().from(auditLog).where(gt(auditLog.seq, seq)).orderBy(asc(auditLog.seq));
}

/** What access monitoring has counted for a user, over every hour. */
async function phiAccessesCounted(userId: string): Promise<number> {
  const [row] = await db.select({ n: sum(accessCounters.accesses) }).from(accessCounters).where(eq(accessCounters.userId, userId));
  return Number(row?.n ?? 0);
}

async function mrnOf(patientId: string): Promise<string> {
  const [row] = await db.select({ sealed: patients.sealedDemographics }).from(patients).where(eq(patients.id, patientId));
  const { cipher } = await getPatientCipher(db, patientId);
  return cipher!.open<{ mrn: string }>('patients', 'sealed_demographics', patientId, row!.sealed).mrn;
}

async function lastAudit(userId: string) {
  const [row] = await db.select().from(auditLog).where(eq(auditLog.userId, userId)).orderBy(asc(auditLog.seq)).then((r) => r.slice(-1));
  return row!;
}

beforeAll(async () => {
  handle = await testDatabase({ patients: 20 });
  db = handle.db;
  // staff07/08 are on the care team of 10 of the 20: put those first, so indexes 10-19 are off their team.
  const [staff] = await db.select({ id: users.id }).from(users).where(eq(users.email, 'staff07@vigil.test'));
  const team = new Set((await db.select({ id: careTeam.patientId }).from(careTeam).where(eq(careTeam.userId, staff!.id))).map((r) => r.id));
  const all = (await db.select({ id: patients.id }).from(patients).orderBy(asc(patients.id))).map((p) => p.id);
  patientIds = [...all.filter((id) => team.has(id)), ...all.filter((id) => !team.has(id))];
  expect(team.size).toBe(10);
  physician2 = await signIn(db, 'physician2@vigil.test');
  privacy = await signIn(db, 'privacy@vigil.test');
});
afterAll(async () => handle?.close());
afterEach(() => resetClock());

describe('who may ask', () => {
  it.each(['billing@vigil.test', 'admin@vigil.test'])('%s is not offered emergency access, and a forged request is refused and audited', async (email) => {
    const viewer = await signIn(db, email);
    const patientId = patientIds[15]!;
    // Billing is on every seeded patient's team: take this one off it, so the chart is refused.
    await db.delete(careTeam).where(and(eq(careTeam.userId, viewer.userId), eq(careTeam.patientId, patientId)));
    expect(await getChart(viewer, patientId)).toMatchObject({ ok: false, error: 'denied' });
    expect(await getBreakGlassPrompt(viewer, patientId)).toMatchObject({ ok: false, error: 'not_permitted' });

    const result = await requestGrant(viewer, request(patientId));
    expect(result).toMatchObject({ ok: false, error: 'not_permitted', message: grantMessages.not_permitted });
    expect(await grantsFor(viewer.userId)).toHaveLength(0);
    const entry = await lastAudit(viewer.userId);
    expect(entry).toMatchObject({ actionType: 'break_glass.request', outcome: 'denied', patientId, details: { reason: 'not_permitted' } });
  });

  it('a clinician on no care team is refused the chart and offered emergency access', async () => {
    const chart = await getChart(physician2, patientIds[11]!);
    expect(chart).toMatchObject({ ok: false, error: 'break_glass_offered' });
  });

  it('the prompt shows only name, date of birth and MRN, and the lookup is audited', async () => {
    const prompt = await getBreakGlassPrompt(physician2, patientIds[11]!);
    expect(prompt.ok).toBe(true);
    if (!prompt.ok) return;
    expect(Object.keys(prompt.value.identity).sort()).toEqual(['dateOfBirth', 'mrn', 'name']);
    expect(prompt.value.windowMinutes).toBe(60);
    expect(await lastAudit(physician2.userId)).toMatchObject({
      actionType: 'break_glass.identity_view',
      outcome: 'allowed',
      patientId: patientIds[11],
      details: { fields: ['name', 'date_of_birth', 'mrn'] },
    });
  });

  it('a care-team member does not need it, and unknown patients are refused', async () => {
    const staff = await signIn(db, 'staff08@vigil.test');
    expect(await getBreakGlassPrompt(staff, patientIds[0]!)).toMatchObject({ ok: false, error: 'has_access' });
    expect(await requestGrant(staff, request(patientIds[0]!))).toMatchObject({ ok: false, error: 'has_access' });
    expect(await requestGrant(staff, request('00000000-0000-4000-8000-000000000000'))).toMatchObject({ ok: false, error: 'not_found' });
    expect(await requestGrant(staff, request('../../etc'))).toMatchObject({ ok: false, error: 'not_found' });
    expect(await grantsFor(staff.userId)).toHaveLength(0);
  });
});

describe('what a request must contain', () => {
  it.each([
    ['empty', '', justificationMessages.empty],
    ['whitespace', '   \n  ', justificationMessages.empty],
    ['too short', 'Emergency!', justificationMessages.tooShort],
    ['filler', 'aaaaaaaaaaaaaaaaaaaaaaaaaaa', justificationMessages.filler],
    ['keyboard filler', 'asdf asdf asdf asdf asdf asdf', justificationMessages.filler],
    ['over-long', 'Patient unresponsive, need the chart. '.repeat(40), justificationMessages.tooLong],
    ['script', '<script>alert(document.cookie)</script> unresponsive patient in resus', justificationMessages.markup],
    ['img onerror', 'Unresponsive patient <img src=x onerror=alert(1)> need allergies now', justificationMessages.markup],
  ])('%s justification: refused with a clear message, no grant, audited', async (_name, justification, message) => {
    const before = (await db.select({ n: count() }).from(auditLog))[0]!.n;
    const result = await requestGrant(physician2, request(patientIds[12]!, { justification }));
    expect(result).toMatchObject({ ok: false, error: 'invalid', message, fieldErrors: { justification: message } });
    expect(await grantsFor(physician2.userId)).toHaveLength(0);
    const entry = await lastAudit(physician2.userId);
    expect(entry).toMatchObject({ actionType: 'break_glass.request', outcome: 'denied', details: { reason: 'invalid', fields: ['justification'] } });
    expect(JSON.stringify(entry.details)).not.toContain(justification.trim().slice(0, 12) || '\u0000');
    // Nothing else happened: no re-authentication was attempted with an unusable request.
    expect((await db.select({ n: count() }).from(auditLog))[0]!.n).toBe(before + 1);
  });

  it('needs a reason from the list and the right password', async () => {
    expect(await requestGrant(physician2, request(patientIds[12]!, { reasonCode: 'curiosity' }))).toMatchObject({
      ok: false,
      error: 'invalid',
      fieldErrors: { reasonCode: 'Choose a reason from the list.' },
    });
    expect(await requestGrant(physician2, request(patientIds[12]!, { secret: '' }))).toMatchObject({ ok: false, error: 'invalid' });
    expect(await requestGrant(physician2, request(patientIds[12]!, { secret: 'not-my-password' }))).toMatchObject({
      ok: false,
      error: 'reauth_failed',
    });
    expect(await grantsFor(physician2.userId)).toHaveLength(0);
    const [reauth] = await db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.userId, physician2.userId), eq(auditLog.actionType, 'auth.reauthenticate')));
    expect(reauth).toMatchObject({ outcome: 'denied' });
  });

  it('stops accepting secrets after repeated wrong ones in a session', async () => {
    const viewer = await signIn(db, 'nurse@vigil.test');
    // The nurse is on every seeded patient's team: take one off it for this test.
    await db.delete(careTeam).where(and(eq(careTeam.userId, viewer.userId), eq(careTeam.patientId, patientIds[19]!)));
    for (let i = 0; i < 5; i++) {
      expect(await requestGrant(viewer, request(patientIds[19]!, { secret: `wrong-${i}` }))).toMatchObject({ error: 'reauth_failed' });
    }
    expect(await requestGrant(viewer, request(patientIds[19]!))).toMatchObject({ ok: false, error: 'too_many_attempts' });
    expect(await grantsFor(viewer.userId)).toHaveLength(0);
  });
});

describe('a grant', () => {
  let grantId: string;
  const patient = () => patientIds[13]!;

  it('is made, sealed, audited and announced to privacy officers', async () => {
    const result = await requestGrant(physician2, request(patient()));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    grantId = result.value.grantId;
    expect(result.value.windowMinutes).toBe(60);
    expect(result.value.expiresAt.getTime() - now().getTime()).toBeGreaterThan(59 * 60_000);

    const [grant] = await db.select().from(breakGlassGrants).where(eq(breakGlassGrants.id, grantId));
    expect(grant).toMatchObject({ userId: physician2.userId, patientId: patient(), sessionId: physician2.sessionId, reasonCode: 'emergency_treatment', reviewStatus: 'pending' });
    expect(grant!.sealedJustification).not.toContain('resus');
    const { cipher } = await getPatientCipher(db, patient());
    expect(cipher!.open('break_glass_grants', 'sealed_justification', grantId, grant!.sealedJustification)).toBe(JUSTIFICATION);

    expect(await lastAudit(physician2.userId)).toMatchObject({
      actionType: 'break_glass.grant',
      outcome: 'allowed',
      breakGlassGrantId: grantId,
      patientId: patient(),
      details: { reasonCode: 'emergency_treatment', windowMinutes: 60 },
    });
    const [notice] = await db.select().from(notifications).where(eq(notifications.link, `/admin/break-glass/${grantId}`));
    expect(notice).toMatchObject({ audienceRole: 'privacy_officer', kind: 'break_glass.granted' });
    expect(notice!.message).not.toMatch(/resus|BP/);
    expect((await db.select().from(alertOutbox)).some((row) => row.payload.link === `/admin/break-glass/${grantId}`)).toBe(true);
  });

  it('opens the chart with the banner, and every audit entry under it carries its id', async () => {
    const chart = await getChart(physician2, patient());
    expect(chart.ok).toBe(true);
    if (!chart.ok) return;
    expect(chart.value.breakGlass).toMatchObject({ grantId, reasonCode: 'emergency_treatment' });
    const body = { text: 'Seen in resus under emergency access.', author: 'Dr. Ben Okafor', writtenAt: now().toISOString() };
    const note = await addEntry(physician2, { patientId: patient(), section: 'progress_notes', body });
    expect(note.ok).toBe(true);
    await getChart(physician2, patient());

    const [grant] = await db.select().from(breakGlassGrants).where(eq(breakGlassGrants.id, grantId));
    const during = await db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.userId, physician2.userId), eq(auditLog.patientId, patient()), gte(auditLog.occurredAt, grant!.grantedAt)));
    expect(during.map((e) => e.actionType)).toEqual(['break_glass.grant', 'chart.view', 'progress_notes.create', 'chart.view']);
    for (const entry of during) expect(entry.breakGlassGrantId).toBe(grantId);
  });

  it('cannot be stacked or silently extended', async () => {
    expect(await requestGrant(physician2, request(patient()))).toMatchObject({ ok: false, error: 'already_active' });
    expect((await grantsFor(physician2.userId)).filter((g) => g.patientId === patient())).toHaveLength(1);
  });

  it('belongs to the session that asked for it', async () => {
    const elsewhere = await signIn(db, 'physician2@vigil.test');
    expect(await getChart(elsewhere, patient())).toMatchObject({ ok: false, error: 'break_glass_offered' });
  });

  it('expires after its window: the next request is denied again, without a banner', async () => {
    advanceClock(59 * 60_000);
    expect((await getChart(physician2, patient())).ok).toBe(true);
    advanceClock(2 * 60_000);
    const chart = await getChart(physician2, patient());
    expect(chart).toMatchObject({ ok: false, error: 'break_glass_offered' });
    expect('value' in chart).toBe(false);
    expect(await lastAudit(physician2.userId)).toMatchObject({ actionType: 'chart.view', outcome: 'denied', breakGlassGrantId: null });
    const late = { text: 'Too late.', author: 'x', writtenAt: now().toISOString() };
    expect(await addEntry(physician2, { patientId: patient(), section: 'progress_notes', body: late })).toMatchObject({ ok: false, error: 'denied' });
  });

  it('ends when its session signs out', async () => {
    const viewer = await signIn(db, 'staff07@vigil.test');
    const result = await requestGrant(viewer, request(patientIds[14]!, { reasonCode: 'unable_to_consent' }));
    expect(result.ok).toBe(true);
    expect((await getChart(viewer, patientIds[14]!)).ok).toBe(true);
    await endSession(viewer);
    const [grant] = await grantsFor(viewer.userId);
    expect(grant).toMatchObject({ endedReason: 'sign_out' });
    expect(await lastAudit(viewer.userId)).toMatchObject({ actionType: 'auth.logout' });
    const [ended] = await db.select().from(auditLog).where(and(eq(auditLog.userId, viewer.userId), eq(auditLog.actionType, 'break_glass.end')));
    expect(ended).toMatchObject({ breakGlassGrantId: grant!.id, details: { reason: 'sign_out' } });
    expect(await getChart(viewer, patientIds[14]!)).toMatchObject({ ok: false });
  });
});

describe('the window setting', () => {
  it('is for admins only, within bounds, audited, and applies to new grants', async () => {
    const admin = await signIn(db, 'admin@vigil.test');
    const change = (minutes: unknown) => ({ minutes, adminPassword: DEMO_PASSWORD });
    expect(await setWindowMinutes(physician2, change(240))).toMatchObject({ ok: false, error: 'denied' });
    expect(await lastAudit(physician2.userId)).toMatchObject({ actionType: 'settings.update', outcome: 'denied' });
    for (const bad of [14, 241, 'soon', 30.5]) expect(await setWindowMinutes(admin, change(bad))).toMatchObject({ ok: false, error: 'invalid' });
    expect(await setWindowMinutes(admin, change('15'))).toEqual({ ok: true, value: { minutes: 15 } });
    expect(await lastAudit(admin.userId)).toMatchObject({ actionType: 'settings.update', outcome: 'allowed', details: { from: 60, to: 15 } });

    const viewer = await signIn(db, 'staff08@vigil.test');
    const result = await requestGrant(viewer, request(patientIds[15]!, { reasonCode: 'covering_clinician' }));
    expect(result).toMatchObject({ ok: true, value: { windowMinutes: 15 } });
    advanceClock(16 * 60_000);
    expect((await getChart(viewer, patientIds[15]!)).ok).toBe(false);
    expect(await setWindowMinutes(admin, change(60))).toEqual({ ok: true, value: { minutes: 60 } });
  });
});

describe('repeated use', () => {
  it('more than 3 grants in 24 hours by one user opens one HIGH incident and tells privacy officers', async () => {
    const viewer = await signIn(db, 'staff07@vigil.test');
    // staff07 already holds one grant (signed out, above); three more make four.
    for (const index of [16, 17]) expect((await requestGrant(viewer, request(patientIds[index]!))).ok).toBe(true);
    expect(await db.select().from(incidents).where(and(eq(incidents.userId, viewer.userId), eq(incidents.rule, 'repeated_break_glass')))).toHaveLength(0);
    expect((await requestGrant(viewer, request(patientIds[18]!))).ok).toBe(true);
    const ofRule = and(eq(incidents.userId, viewer.userId), eq(incidents.rule, 'repeated_break_glass'));
    const [incident] = await db.select().from(incidents).where(ofRule);
    expect(incident).toMatchObject({ severity: 'HIGH', rule: 'repeated_break_glass', status: 'open', details: { grants: 4, threshold: 3 } });
    expect((incident!.details.patientIds as string[]).sort()).toEqual([14, 16, 17, 18].map((i) => patientIds[i]!).sort());
    const [notice] = await db.select().from(notifications).where(eq(notifications.kind, 'incident.opened'));
    expect(notice).toMatchObject({ link: `/admin/incidents/${incident!.id}` });
    expect(await db.select().from(auditLog).where(and(eq(auditLog.actionType, 'incident.open'), eq(auditLog.resourceId, incident!.id)))).toHaveLength(1);
    // HIGH, not CRITICAL: the account stays enabled.
    expect((await db.select().from(users).where(eq(users.id, viewer.userId)))[0]!.disabledAt).toBeNull();

    expect((await requestGrant(viewer, request(patientIds[19]!))).ok).toBe(true);
    const all = await db.select().from(incidents).where(ofRule);
    expect(all).toHaveLength(1);
    expect(all[0]!.details.patientIds).toContain(patientIds[19]);
  });
});

describe('review by a privacy officer', () => {
  let grantId: string;

  beforeAll(async () => {
    const [first] = await db
      .select({ id: breakGlassGrants.id })
      .from(breakGlassGrants)
      .where(and(eq(breakGlassGrants.userId, physician2.userId), eq(breakGlassGrants.patientId, patientIds[13]!)));
    grantId = first!.id;
  });

  it('lists pending grants first; clinicians cannot see the queue', async () => {
    const queue = await listReviewQueue(privacy);
    expect(queue.ok).toBe(true);
    if (!queue.ok) return;
    const statuses = queue.value.map((item) => item.reviewStatus);
    expect(statuses.every((s) => s === 'pending')).toBe(true);
    const item = queue.value.find((i) => i.grantId === grantId)!;
    expect(item).toMatchObject({ user: { email: 'physician2@vigil.test' }, patientId: patientIds[13], reasonCode: 'emergency_treatment' });
    expect(item.activityCount).toBeGreaterThanOrEqual(4);
    expect(await listReviewQueue(physician2)).toMatchObject({ ok: false, error: 'denied' });
    expect(await lastAudit(physician2.userId)).toMatchObject({ actionType: 'break_glass.queue_view', outcome: 'denied' });
  });

  it('shows everything done under the grant on its GET, without the justification or MRN, and writes no PHI access', async () => {
    const since = await headSeq();
    const accessesBefore = await phiAccessesCounted(privacy.userId);
    const review = await getGrantReview(privacy, grantId);
    expect(review.ok).toBe(true);
    if (!review.ok) return;
    expect(review.value).toMatchObject({ grantId, patientId: patientIds[13], reasonCode: 'emergency_treatment', reasonLabel: 'Emergency treatment' });
    expect(review.value.sectionsViewed).toEqual(expect.arrayContaining(['demographics', 'progress_notes', 'medications', 'allergies']));
    expect(review.value.activity.map((a) => a.action)).toEqual(['break_glass.grant', 'chart.view', 'progress_notes.create', 'chart.view', 'chart.view']);
    expect(review.value.canReview).toBe(true);
    // Neither sealed value is in what the page is given, under any name.
    const shown = JSON.stringify(review.value);
    expect(shown).not.toContain(JUSTIFICATION.slice(0, 20));
    expect(shown).not.toContain(await mrnOf(patientIds[13]!));
    // One entry, the non-PHI view of the grant, on no patient's record: the monitor counts nothing.
    const written = await entriesAfter(since);
    expect(written).toEqual([
      expect.objectContaining({ actionType: 'break_glass.grant_view', outcome: 'allowed', userId: privacy.userId, resourceId: grantId, patientId: null, details: expect.objectContaining({ fields: [] }) }),
    ]);
    expect(isPhiAccess('break_glass.grant_view')).toBe(false);
    expect(await phiAccessesCounted(privacy.userId)).toBe(accessesBefore);
  });

  it('opens the justification and MRN only with a stated reason, as a PHI access on the patient’s record', async () => {
    const grantBefore = (await db.select().from(breakGlassGrants).where(eq(breakGlassGrants.id, grantId)))[0];
    const accessesBefore = await phiAccessesCounted(privacy.userId);

    // No reason, or one outside the list: refused with a plain message, nothing opened, the attempt recorded against the patient.
    for (const reason of [undefined, '', 'curiosity']) {
      expect(await revealGrantSealed(privacy, { grantId, reason })).toEqual({
        ok: false,
        error: 'invalid',
        message: 'Choose why you are opening the justification and MRN.',
        fieldErrors: { reason: 'Choose why you are opening the justification and MRN.' },
      });
      expect(await lastAudit(privacy.userId)).toMatchObject({
        actionType: 'break_glass.review_view',
        outcome: 'denied',
        patientId: patientIds[13],
        resourceId: grantId,
        details: { reason: 'invalid', fields: ['reason'] },
      });
    }
    expect((await db.select().from(breakGlassGrants).where(eq(breakGlassGrants.id, grantId)))[0]).toEqual(grantBefore);
    expect(await phiAccessesCounted(privacy.userId)).toBe(accessesBefore);
    // A clinician cannot ask at all, reason or not.
    expect(await revealGrantSealed(physician2, { grantId, reason: 'break_glass_review' })).toMatchObject({ ok: false, error: 'denied' });
    expect(await lastAudit(physician2.userId)).toMatchObject({ actionType: 'break_glass.review_view', outcome: 'denied', patientId: patientIds[13] });
    expect(await revealGrantSealed(privacy, { grantId: randomUUID(), reason: 'break_glass_review' })).toMatchObject({ ok: false, error: 'not_found' });

    const revealed = await revealGrantSealed(privacy, { grantId, reason: 'break_glass_review' });
    expect(revealed).toEqual({ ok: true, value: { justification: JUSTIFICATION, mrn: await mrnOf(patientIds[13]!) } });
    expect(await lastAudit(privacy.userId)).toMatchObject({
      actionType: 'break_glass.review_view',
      outcome: 'allowed',
      resourceId: grantId,
      patientId: patientIds[13],
      breakGlassGrantId: null,
      details: { reason: 'break_glass_review', fields: ['justification', 'mrn'] },
    });
    // Monitored like a chart view, and in the patient's accounting of disclosures with the reason.
    expect(isPhiAccess('break_glass.review_view')).toBe(true);
    expect(await phiAccessesCounted(privacy.userId)).toBe(accessesBefore + 1);
    const report = await accountingOfDisclosures(privacy, { patientId: patientIds[13]! });
    if (!report.ok) throw new Error(report.error);
    const rows = report.value.rows.filter((r) => r.action === 'break_glass.review_view');
    expect(rows.filter((r) => r.outcome === 'denied')).toHaveLength(4);
    expect(rows.filter((r) => r.outcome === 'allowed')).toEqual([
      expect.objectContaining({
        email: 'privacy@vigil.test',
        what: 'Opened the justification and MRN of an emergency access (privacy review)',
        why: 'Privacy oversight — Reviewing an emergency access',
      }),
    ]);
    // The GET views of the grant are no disclosure.
    expect(report.value.rows.some((r) => r.action === 'break_glass.grant_view')).toBe(false);
  });

  it('takes a verdict with a comment, once, audited; never from the grantee or a clinician', async () => {
    expect(await reviewGrant(privacy, { grantId, verdict: 'appropriate', comment: '  ' })).toMatchObject({ ok: false, error: 'invalid' });
    expect(await reviewGrant(privacy, { grantId, verdict: 'fine', comment: 'Looks right to me.' })).toMatchObject({ ok: false, error: 'invalid' });
    expect(await reviewGrant(physician2, { grantId, verdict: 'appropriate', comment: 'I approve my own access.' })).toMatchObject({ ok: false, error: 'denied' });
    expect(await lastAudit(physician2.userId)).toMatchObject({ actionType: 'break_glass.review', outcome: 'denied' });

    const ok = await reviewGrant(privacy, { grantId, verdict: 'appropriate', comment: REVIEW_COMMENT });
    expect(ok).toEqual({ ok: true, value: { grantId, verdict: 'appropriate', commentKept: true } });
    const audited = await lastAudit(privacy.userId);
    expect(audited).toMatchObject({
      actionType: 'break_glass.review',
      outcome: 'allowed',
      resourceId: grantId,
      details: { verdict: 'appropriate', reasonCode: 'emergency_treatment', commentLength: REVIEW_COMMENT.length, commentKept: true },
    });
    expect(JSON.stringify(audited)).not.toContain('Quillmoor');
    expect(await reviewGrant(privacy, { grantId, verdict: 'referred', comment: 'Changed my mind about it.' })).toMatchObject({ ok: false, error: 'already_reviewed' });
    const [grant] = await db.select().from(breakGlassGrants).where(eq(breakGlassGrants.id, grantId));
    expect(grant).toMatchObject({ reviewStatus: 'appropriate', reviewerId: privacy.userId });
    // Sealed with the patient's key, bound to this grant's row and column.
    expect(grant!.sealedReviewComment).not.toContain('Quillmoor');
    const { cipher } = await getPatientCipher(db, grant!.patientId);
    expect(cipher!.open('break_glass_grants', 'sealed_review_comment', grantId, grant!.sealedReviewComment!)).toBe(REVIEW_COMMENT);
    expect(() => cipher!.open('break_glass_grants', 'sealed_justification', grantId, grant!.sealedReviewComment!)).toThrow(DecryptionError);

    const queue = await listReviewQueue(privacy);
    if (!queue.ok) throw new Error('queue');
    expect(queue.value.at(-1)?.grantId).toBe(grantId);
  });

  it('keeps the comment out of every table in plain text, and shows it on the review page', async () => {
    const { text } = await dumpEverything(db);
    expect(text).toContain(grantId);
    expect(text).not.toMatch(/Quillmoor/i);

    const review = await getGrantReview(privacy, grantId);
    if (!review.ok) throw new Error(review.error);
    expect(review.value.reviewComment).toEqual({ status: 'shown', text: REVIEW_COMMENT });
    expect(review.value.canReview).toBe(false);
    expect(await lastAudit(privacy.userId)).toMatchObject({ actionType: 'break_glass.grant_view', patientId: null, details: { fields: ['review_comment'] } });
  });

  it('cannot be done by the grantee even with the privacy role', async () => {
    const [staff] = await db.select().from(users).where(eq(users.email, 'staff07@vigil.test'));
    await insertRoleRows(db, [{ userId: staff!.id, roleName: 'privacy_officer' }]);
    const both = await signIn(db, 'staff07@vigil.test');
    const [own] = await grantsFor(both.userId);
    expect(await reviewGrant(both, { grantId: own!.id, verdict: 'appropriate', comment: 'Reviewing my own access.' })).toMatchObject({ ok: false, error: 'own_grant' });
    await db.delete(userRoles).where(and(eq(userRoles.userId, staff!.id), eq(userRoles.roleName, 'privacy_officer')));
  });

  it('lists refused requests, including forged ones from roles without the permission', async () => {
    const refused = await listRefusedRequests(privacy, { limit: 200 });
    if (!refused.ok) throw new Error('refused');
    const reasons = refused.value.map((r) => `${r.user?.email}:${r.reason}`);
    expect(reasons).toEqual(expect.arrayContaining(['billing@vigil.test:not_permitted', 'admin@vigil.test:not_permitted', 'physician2@vigil.test:invalid', 'physician2@vigil.test:reauth_failed']));
    // Like the queue beside it, a clinician's look at the list is refused and audited.
    expect(await listRefusedRequests(physician2)).toMatchObject({ ok: false, error: 'denied' });
    expect(await lastAudit(physician2.userId)).toMatchObject({ actionType: 'break_glass.queue_view', outcome: 'denied' });
  });
});

describe('the review comment of a crypto-shredded patient', () => {
  const patient = () => patientIds[10]!;

  /** A grant made straight in the table: this patient is about to be shredded, so no chart use. */
  async function insertGrant(): Promise<string> {
    const id = randomUUID();
    const { cipher } = await getPatientCipher(db, patient());
    const sealedJustification = cipher
      ? cipher.seal('break_glass_grants', 'sealed_justification', id, JUSTIFICATION)
      : 'unreadable-after-shredding';
    await db.insert(breakGlassGrants).values(
      withMac('break_glass_grants', {
        id,
        userId: physician2.userId,
        patientId: patient(),
        sessionId: null,
        reasonCode: 'other',
        sealedJustification,
        expiresAt: now(),
        endedAt: null,
        reviewStatus: 'pending',
        reviewerId: null,
        reviewedAt: null,
      }),
    );
    return id;
  }

  it('reads as erased once the patient is shredded, like the justification beside it', async () => {
    const grantId = await insertGrant();
    expect((await reviewGrant(privacy, { grantId, verdict: 'referred', comment: REVIEW_COMMENT })).ok).toBe(true);
    const before = await getGrantReview(privacy, grantId);
    expect(before.ok && before.value.reviewComment).toEqual({ status: 'shown', text: REVIEW_COMMENT });

    expect(await shredPatient(db, patient(), { userId: null, userAgent: 'vitest' })).toMatchObject({ status: 'shredded' });
    const after = await getGrantReview(privacy, grantId);
    if (!after.ok) throw new Error(after.error);
    expect(after.value).toMatchObject({ reviewComment: { status: 'erased' }, reviewStatus: 'referred' });
    expect(await lastAudit(privacy.userId)).toMatchObject({ actionType: 'break_glass.grant_view', details: { fields: [] } });
    expect(await revealGrantSealed(privacy, { grantId, reason: 'incident' })).toEqual({ ok: true, value: { justification: null, mrn: null } });
    expect(await lastAudit(privacy.userId)).toMatchObject({ actionType: 'break_glass.review_view', details: { reason: 'incident' } });
  });

  it('a verdict on a grant of an already shredded patient is recorded without its comment', async () => {
    const grantId = await insertGrant();
    const result = await reviewGrant(privacy, { grantId, verdict: 'appropriate', comment: REVIEW_COMMENT });
    expect(result).toEqual({ ok: true, value: { grantId, verdict: 'appropriate', commentKept: false } });
    const [grant] = await db.select().from(breakGlassGrants).where(eq(breakGlassGrants.id, grantId));
    expect(grant).toMatchObject({ reviewStatus: 'appropriate', sealedReviewComment: null });
    expect(await lastAudit(privacy.userId)).toMatchObject({ actionType: 'break_glass.review', details: { commentKept: false } });
    const review = await getGrantReview(privacy, grantId);
    expect(review.ok && review.value.reviewComment).toEqual({ status: 'erased' });
  });
});

describe('the audit chain', () => {
  it('holds the grant, every view under it and the review, unbroken', async () => {
    const rows = await db.select().from(auditLog).orderBy(asc(auditLog.seq));
    const verified = await verifyChain({ db });
    expect(verified).toMatchObject({ ok: true, break: null, checked: rows.length, headSeq: rows.at(-1)!.seq });
    const [grant] = await db
      .select()
      .from(breakGlassGrants)
      .where(and(eq(breakGlassGrants.userId, physician2.userId), eq(breakGlassGrants.patientId, patientIds[13]!)));
    const underGrant = rows.filter((r) => r.breakGlassGrantId === grant!.id).map((r) => r.actionType);
    expect(underGrant).toContain('break_glass.grant');
    expect(underGrant.filter((a) => a === 'chart.view').length).toBeGreaterThanOrEqual(3);
    expect(rows.some((r) => r.actionType === 'break_glass.review' && r.resourceId === grant!.id && r.outcome === 'allowed')).toBe(true);
    // The accounting of disclosures can name the reason of every access under a grant.
    const withReason = await db
      .select({ action: auditLog.actionType, reason: breakGlassGrants.reasonCode })
      .from(auditLog)
      .innerJoin(breakGlassGrants, eq(breakGlassGrants.id, auditLog.breakGlassGrantId))
      .where(eq(auditLog.patientId, patientIds[13]!));
    expect(withReason.filter((r) => r.action === 'chart.view').every((r) => r.reason === 'emergency_treatment')).toBe(true);
  });
});
