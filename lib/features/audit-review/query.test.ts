/**
 * The privacy officer's side of the trail: search with filters and keyset pages, exports, the
 * single-entry view with sealed state, the accounting of disclosures, and chain status — each
 * refused to others, and each use recorded in the trail itself.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { and, desc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, breakGlassGrants } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { advanceClock, now, resetClock } from '@/lib/platform/clock';
import { withMac } from '@/lib/platform/integrity';
import { getChart, listPatients, updateEntry } from '@/lib/features/records';
import { appendOne, careTeamOf, syntheticEvent } from '@/test/audit-fixtures';
import { testDatabase, viewer as signIn } from '@/test/fixtures';
import { testDatabaseKind, type TestDatabase } from '@/test/db';
import { readCheckpoint } from '@/lib/platform/audit/checkpoint';
import { accountingOfDisclosures } from '@/lib/features/audit-review/disclosures';
import { isPhiAccess } from '@/lib/domain/audit/actions';
import { getAuditEntry, revealAuditState } from '@/lib/features/audit-review/entry';
import { csvColumns, exportAuditLog } from '@/lib/features/audit-review/export';
import { searchAuditLog, type AuditListEntry } from '@/lib/features/audit-review/query';
import { chainStatus, verifyNow } from '@/lib/features/audit-review/status';

let handle: TestDatabase;
let dir: string;
let privacy: Viewer;
let physician: Viewer;
let nurse: Viewer;
let stranger: Viewer;
let p1: string;
let p2: string;
let p3: string;
let grantId: string;
let medicationUpdateSeq: number;

async function lastEntry() {
  const [row] = await handle.db.select().from(auditLog).orderBy(desc(auditLog.seq)).limit(1);
  return row!;
}

async function collect(chunks: AsyncIterable<string>): Promise<string> {
  let text = '';
  for await (const chunk of chunks) text += chunk;
  return text;
}

beforeAll(async () => {
  handle = await testDatabase({ patients: 12 });
  dir = mkdtempSync(path.join(tmpdir(), 'vigil-audit-query-'));
  process.env.VIGIL_AUDIT_CHECKPOINT = path.join(dir, 'checkpoint.json');
  privacy = await signIn(handle.db, 'privacy@vigil.test');
  physician = { ...(await signIn(handle.db, 'physician@vigil.test')), userAgent: '=HYPERLINK("http://evil")' };
  nurse = await signIn(handle.db, 'nurse@vigil.test');
  stranger = await signIn(handle.db, 'physician2@vigil.test');
  [p1, p2, p3] = (await careTeamOf(handle.db, 'physician@vigil.test')) as [string, string, string];

  // The session the reports below are about, in this order.
  await getChart(physician, p1);
  await getChart(nurse, p1);
  await listPatients(physician, {});
  const opened = await getChart(physician, p2);
  if (!opened.ok) throw new Error('the physician should open their patient');
  const chart = opened.value;
  const med = chart.sections.medications?.status === 'ok' ? chart.sections.medications.entries[0]! : null;
  await updateEntry(physician, { patientId: p2, section: 'medications', recordId: med!.id, expectedVersion: med!.version, changes: { status: med!.body.status === 'active' ? 'stopped' : 'active' } });
  medicationUpdateSeq = (await lastEntry()).seq;
  await getChart(stranger, p1); // refused: no relationship
  grantId = randomUUID();
  await handle.db.insert(breakGlassGrants).values(
    withMac('break_glass_grants', {
      id: grantId,
      userId: stranger.userId,
      patientId: p1,
      sessionId: stranger.sessionId,
      reasonCode: 'emergency_treatment',
      sealedJustification: 'sealed elsewhere in real grants',
      grantedAt: now(),
      expiresAt: new Date(Date.now() + 3_600_000),
      endedAt: null,
      reviewStatus: 'pending',
      reviewerId: null,
      reviewedAt: null,
    }),
  );
  await getChart(stranger, p1); // allowed under the grant
  advanceClock(3 * 86_400_000);
  await getChart(physician, p3);
  resetClock();
});
afterAll(async () => {
  resetClock();
  delete process.env.VIGIL_AUDIT_CHECKPOINT;
  await handle.close();
  rmSync(dir, { recursive: true, force: true });
});

const ok = <T,>(result: { ok: true; value: T } | { ok: false; message: string }): T => {
  if (!result.ok) throw new Error(result.message);
  return result.value;
};

describe(`audit trail search (${testDatabaseKind})`, () => {
  it('refuses everyone but privacy officers, and records the refusal', async () => {
    for (const viewer of [physician, nurse]) {
      expect(await searchAuditLog(viewer, {})).toMatchObject({ ok: false, error: 'denied' });
      expect(await lastEntry()).toMatchObject({ actionType: 'audit.search', outcome: 'denied', userId: viewer.userId });
      expect(await exportAuditLog(viewer, { format: 'csv' })).toMatchObject({ ok: false, error: 'denied' });
      expect(await lastEntry()).toMatchObject({ actionType: 'audit.export', outcome: 'denied' });
      expect(await accountingOfDisclosures(viewer, { patientId: p1 })).toMatchObject({ ok: false, error: 'denied' });
      expect(await getAuditEntry(viewer, { seq: 1 })).toMatchObject({ ok: false, error: 'denied' });
      expect(await verifyNow(viewer)).toMatchObject({ ok: false, error: 'denied' });
    }
  });

  it('filters by user email, records the search, and returns newest first', async () => {
    const page = ok(await searchAuditLog(privacy, { user: ' Physician@Vigil.test ' }));
    expect(await lastEntry()).toMatchObject({ actionType: 'audit.search', outcome: 'allowed', userId: privacy.userId, details: { user: 'physician@vigil.test', actorRoles: ['privacy_officer'] } });
    expect(page.entries.length).toBeGreaterThan(3);
    expect(page.entries.every((e) => e.user?.email === 'physician@vigil.test')).toBe(true);
    expect(page.entries[0]!.patientId).toBe(p3); // the latest (3 days on)
    const times = page.entries.map((e) => e.occurredAt);
    expect([...times].sort().reverse()).toEqual(times);
    expect(ok(await searchAuditLog(privacy, { user: 'nobody@vigil.test' }))).toMatchObject({ entries: [], unknownUser: true });
  });

  it('filters by patient, action (exact or prefix), outcome, break-glass and time range', async () => {
    const forP1 = ok(await searchAuditLog(privacy, { patient: p1, action: 'chart.view' })).entries;
    expect(forP1.map((e) => [e.user?.email, e.outcome]).reverse()).toEqual([
      ['physician@vigil.test', 'allowed'],
      ['nurse@vigil.test', 'allowed'],
      ['physician2@vigil.test', 'denied'],
      ['physician2@vigil.test', 'allowed'],
    ]);
    expect(ok(await searchAuditLog(privacy, { action: 'medications.*' })).entries.map((e) => e.seq)).toEqual([medicationUpdateSeq]);
    const denied = ok(await searchAuditLog(privacy, { outcome: 'denied', action: 'chart.*' })).entries;
    expect(denied.map((e) => e.user?.email)).toEqual(['physician2@vigil.test']);
    const emergency = ok(await searchAuditLog(privacy, { breakGlass: 'on' })).entries;
    expect(emergency).toHaveLength(1);
    expect(emergency[0]).toMatchObject({ patientId: p1, breakGlass: { grantId, reasonCode: 'emergency_treatment' } });
    const later = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 16);
    const future = ok(await searchAuditLog(privacy, { from: later, action: 'chart.view' })).entries;
    expect(future.map((e) => e.patientId)).toEqual([p3]);
    const past = ok(await searchAuditLog(privacy, { to: later, action: 'chart.view', user: 'physician@vigil.test' })).entries;
    expect(past.map((e) => e.patientId)).toEqual([p2, p1]);
    expect(await searchAuditLog(privacy, { patient: 'not-a-uuid' })).toMatchObject({ ok: false, error: 'invalid' });
  });

  it('pages by keyset, older and back to newer, without gaps or repeats', async () => {
    // An action nothing else in this file writes, so the filter finds exactly these 120.
    for (let i = 0; i < 120; i++) await appendOne(handle.db, syntheticEvent(i, { action: 'key.rotate' }));
    const seen: AuditListEntry[][] = [];
    let page = ok(await searchAuditLog(privacy, { action: 'key.rotate' }));
    expect(page.newer).toBeNull();
    seen.push(page.entries);
    while (page.older) {
      page = ok(await searchAuditLog(privacy, { action: 'key.rotate', before: page.older }));
      seen.push(page.entries);
    }
    expect(seen.map((p) => p.length)).toEqual([50, 50, 20]);
    const seqs = seen.flat().map((e) => e.seq);
    expect(new Set(seqs).size).toBe(120);
    expect([...seqs].sort((a, b) => b - a)).toEqual(seqs);
    const back = ok(await searchAuditLog(privacy, { action: 'key.rotate', after: page.newer! }));
    expect(back.entries.map((e) => e.seq)).toEqual(seen[1]!.map((e) => e.seq));
    expect(back.older).not.toBeNull();
    expect(back.newer).not.toBeNull();
  });

  it('exports the filtered set as CSV, safe to open in a spreadsheet, and records the export', async () => {
    const exported = ok(await exportAuditLog(privacy, { user: 'physician@vigil.test', action: 'chart.view', format: 'csv' }));
    expect(await lastEntry()).toMatchObject({ actionType: 'audit.export', outcome: 'allowed', details: { format: 'csv', action: 'chart.view' } });
    const lines = (await collect(exported.chunks)).trimEnd().split('\r\n');
    expect(lines[0]).toBe(csvColumns.join(','));
    expect(lines).toHaveLength(1 + 3);
    expect(lines[1]).toContain(p3);
    // The user agent began with "=": it is neutralised, and quoted because it holds quotes.
    expect(lines[1]).toContain(`"'=HYPERLINK(""http://evil"")"`);
    expect(exported.filename).toMatch(/^vigil-audit-.*\.csv$/);
  });

  it('exports the filtered set as a FHIR R4 Bundle of AuditEvent resources', async () => {
    const exported = ok(await exportAuditLog(privacy, { patient: p1, action: 'chart.view', format: 'fhir' }));
    const bundle = JSON.parse(await collect(exported.chunks));
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'collection' });
    expect(bundle.entry).toHaveLength(4);
    const events = bundle.entry.map((e: { resource: Record<string, unknown> }) => e.resource);
    for (const event of events) {
      expect(event).toMatchObject({
        resourceType: 'AuditEvent',
        type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110110' },
        action: 'R',
        entity: expect.arrayContaining([expect.objectContaining({ what: { reference: `Patient/${p1}` } })]),
        source: { observer: { display: 'Vigil clinician portal' } },
      });
      expect(Date.parse(event.recorded)).not.toBeNaN();
    }
    const emergency = events.find((e: { purposeOfEvent?: unknown }) => e.purposeOfEvent);
    expect(emergency.purposeOfEvent[0].coding[0].code).toBe('ETREAT');
    expect(events.filter((e: { outcome: string }) => e.outcome === '4')).toHaveLength(1);
    expect(JSON.stringify(bundle)).not.toContain('sealed');
  });
});

describe(`one entry in full (${testDatabaseKind})`, () => {
  it('shows the chain check, and opens sealed before/after only on request, recorded against the patient', async () => {
    const view = ok(await getAuditEntry(privacy, { seq: medicationUpdateSeq }))!;
    expect(view).toMatchObject({ chain: { hashValid: true, linked: true }, canReveal: true });
    expect(await lastEntry()).toMatchObject({ actionType: 'audit.entry.view', resourceId: String(medicationUpdateSeq), patientId: null });

    // Without a stated reason: refused, opens nothing, and the attempt is recorded against the patient.
    expect(await revealAuditState(privacy, { seq: medicationUpdateSeq })).toMatchObject({ ok: false, error: 'invalid', message: 'Choose why you are opening the recorded values.' });
    expect(await revealAuditState(privacy, { seq: medicationUpdateSeq, reason: 'curiosity' })).toMatchObject({ ok: false, error: 'invalid' });
    expect(await lastEntry()).toMatchObject({ actionType: 'audit.state.reveal', outcome: 'denied', patientId: p2, details: { reason: 'invalid', fields: ['reason'] } });

    const revealed = { state: ok(await revealAuditState(privacy, { seq: medicationUpdateSeq, reason: 'complaint' })) };
    expect(revealed.state).toMatchObject({ status: 'ok' });
    if (revealed.state.status !== 'ok') throw new Error('state should open');
    expect(revealed.state.changes.map((c) => c.field)).toEqual(['status']);
    expect(await lastEntry()).toMatchObject({ actionType: 'audit.state.reveal', outcome: 'allowed', patientId: p2, userId: privacy.userId, details: { reason: 'complaint' } });
    // A PHI access in the registry's sense: the access monitor counts it like a chart view.
    expect(isPhiAccess('audit.state.reveal')).toBe(true);
    const disclosures = ok(await accountingOfDisclosures(privacy, { patientId: p2 }));
    expect(JSON.stringify(disclosures)).toContain('Opened the recorded values of a change');
    expect(ok(await getAuditEntry(privacy, { seq: 999_999 }))).toBeNull();
    expect(ok(await getAuditEntry(privacy, { seq: 'x' }))).toBeNull();
  });
});

describe(`accounting of disclosures (${testDatabaseKind})`, () => {
  it('lists every access to a seeded patient’s record made in the test, in order, with who, role and why', async () => {
    const report = ok(await accountingOfDisclosures(privacy, { patientId: p1 }));
    const accesses = report.rows.filter((r) => !r.action.startsWith('audit.') && r.action !== 'disclosures.report' && r.action !== 'synthetic.page');
    expect(accesses.map((r) => [r.email, r.role, r.action, r.outcome])).toEqual([
      ['physician@vigil.test', 'Physician', 'chart.view', 'allowed'],
      ['nurse@vigil.test', 'Nurse', 'chart.view', 'allowed'],
      ['physician@vigil.test', 'Physician', 'patient.list', 'allowed'],
      ['physician2@vigil.test', 'Physician', 'chart.view', 'denied'],
      ['physician2@vigil.test', 'Physician', 'chart.view', 'allowed'],
    ]);
    expect(accesses.map((r) => r.why)).toEqual([
      'Treatment (care team)',
      'Treatment (care team)',
      'Treatment (care team)',
      'Refused: not on the patient’s care team',
      'Emergency access — Emergency treatment',
    ]);
    expect(accesses[0]!.what).toMatch(/^Viewed the chart: demographics, insurance/);
    expect(accesses[1]!.what).not.toMatch(/insurance/);
    const seqs = report.rows.map((r) => r.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    // Preparing the report is itself recorded against the patient, and shows in it.
    expect(report.rows.at(-1)).toMatchObject({ action: 'disclosures.report', email: 'privacy@vigil.test', why: 'Privacy oversight' });
    const [recorded] = await handle.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.actionType, 'disclosures.report'), eq(auditLog.patientId, p1)));
    expect(recorded).toBeDefined();
    expect(await accountingOfDisclosures(privacy, { patientId: 'nope' })).toMatchObject({ ok: false, error: 'invalid' });
  });
});

describe(`chain status (${testDatabaseKind})`, () => {
  it('is cheap from the last checkpoint; "Verify now" walks everything, is recorded and moves the checkpoint', async () => {
    expect(readCheckpoint().status).toBe('none');
    const before = await chainStatus();
    expect(before).toMatchObject({ state: 'ok', checkpoint: null });
    const verified = ok(await ok(await verifyNow(privacy)).run());
    expect(verified.state).toBe('ok');
    const checkpoint = readCheckpoint();
    expect(checkpoint.status).toBe('valid');
    expect(await lastEntry()).toMatchObject({ actionType: 'audit.verify.result', details: { state: 'ok' } });
    await appendOne(handle.db, syntheticEvent(1));
    const after = await chainStatus();
    // Only the entries since the checkpoint are walked on a page view.
    expect(after).toMatchObject({ state: 'ok', result: { checked: 2 } });
  });
});
