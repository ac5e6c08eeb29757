/**
 * The access matrix, generated: every role × every chart section × read/write × on/off the
 * patient's care team, driven through the data access layer (getChart, addEntry, updateEntry,
 * setBillingStatus) and checked against the policy written out below from the issue. The table
 * is deliberately explicit rather than computed from lib/domain/access/roles.ts, so a change to the
 * default roles that broadens access fails here (and in the "roles.ts says the same" check).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq, gt } from 'drizzle-orm';
import { auditLog, chartSectionTables } from '@/db/schema';
import { hasPermission } from '@/lib/domain/access/permissions';
import { chartPermission } from '@/lib/domain/access/permission-names';
import { chartSections, defaultRoles, roleNames, sectionPermission, type BuiltInRole, type ChartSection } from '@/lib/domain/access/roles';
import type { Viewer } from '@/lib/domain/access/viewer';
import { auditHead, createStaff, ensureEntry, firstEntry, PATIENTS_WITH_STRANGERS, snapshotCharts, strangerPatients, testDatabase, viewer as signIn } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { getChart, type ChartView } from '@/lib/features/records/chart';
import { entrySections, type EntrySection } from '@/lib/features/records/tables';
import { addEntry, setBillingStatus, updateEntry } from '@/lib/features/records/writes';

type Action = 'read' | 'write' | 'billing_status';

/** The policy, as the issue states it. */
const POLICY: Record<BuiltInRole, { read: ChartSection[]; write: ChartSection[]; billingStatus: boolean }> = {
  physician: {
    read: [...chartSections],
    write: ['progress_notes', 'problems', 'medications', 'allergies'],
    billingStatus: false,
  },
  nurse: {
    read: ['demographics', 'allergies', 'medications', 'problems', 'vitals', 'nursing_notes'],
    write: ['vitals', 'nursing_notes'],
    billingStatus: false,
  },
  billing: { read: ['demographics', 'insurance', 'encounters'], write: [], billingStatus: true },
  admin: { read: [], write: [], billingStatus: false },
  privacy_officer: { read: [], write: [], billingStatus: false },
};

function expected(role: BuiltInRole, section: ChartSection, action: Action, onTeam: boolean): boolean {
  const policy = POLICY[role];
  const permitted = action === 'read' ? policy.read.includes(section) : action === 'write' ? policy.write.includes(section) : policy.billingStatus;
  return permitted && onTeam;
}

const today = new Date().toISOString();
const validBodies: Record<EntrySection, Record<string, unknown>> = {
  allergies: { substance: 'Matrix latex', reaction: 'Rash', severity: 'mild', notedOn: today.slice(0, 10) },
  medications: { name: 'Matrixolol', dose: '5 mg', route: 'oral', frequency: 'daily', startedOn: today.slice(0, 10), status: 'active' },
  problems: { description: 'Matrix problem', icd10: 'R69', onsetOn: today.slice(0, 10), status: 'active' },
  vitals: { takenAt: today, heartRate: 70, systolic: 120, diastolic: 80, temperatureC: 36.8, respiratoryRate: 14, spo2: 98 },
  progress_notes: { writtenAt: today, author: 'Matrix', text: 'Matrix progress note' },
  nursing_notes: { writtenAt: today, author: 'Matrix', text: 'Matrix nursing note' },
  encounters: { date: today.slice(0, 10), type: 'Office visit', provider: 'Matrix', cpt: [], icd10: [] },
};

const isEntry = (s: ChartSection): s is EntrySection => s in entrySections;

let handle: TestDatabase;
let onTeamPatient: string;
let offTeamPatient: string;
const viewers = new Map<BuiltInRole, Viewer>();
const charts = new Map<string, Awaited<ReturnType<typeof getChart>>>();

beforeAll(async () => {
  handle = await testDatabase({ patients: PATIENTS_WITH_STRANGERS });
  const strangers = await strangerPatients(handle.db);
  onTeamPatient = strangers[0]!;
  offTeamPatient = strangers[1]!;
  // One fresh user per role, each on the care team of `onTeamPatient` (admin and privacy
  // officer too: the relationship alone must not open clinical PHI to them).
  for (const role of roleNames) {
    const relationship = role === 'nurse' ? 'nursing' : role === 'billing' ? 'billing' : 'attending';
    const staff = await createStaff(handle.db, { roles: [role], careTeam: [{ patientId: onTeamPatient, relationship }] });
    viewers.set(role, await signIn(handle.db, staff.email));
  }
  for (const patientId of [onTeamPatient, offTeamPatient]) {
    for (const section of Object.keys(entrySections) as EntrySection[]) await ensureEntry(handle.db, section, patientId, validBodies[section]);
  }
});

afterAll(async () => {
  await handle?.close();
});

describe('the explicit policy is the one lib/domain/access/roles.ts defines', () => {
  for (const role of roleNames) {
    it(`${role}`, () => {
      const p = defaultRoles[role].permissions;
      for (const section of chartSections) {
        expect(hasPermission(p, 'ehr_read', sectionPermission(section)), `${role} read ${section}`).toBe(POLICY[role].read.includes(section));
        expect(hasPermission(p, 'ehr_write', sectionPermission(section)), `${role} write ${section}`).toBe(POLICY[role].write.includes(section));
      }
      expect(hasPermission(p, 'ehr_write', chartPermission.billingStatus)).toBe(POLICY[role].billingStatus);
    });
  }
});

async function chartFor(role: BuiltInRole, onTeam: boolean) {
  const key = `${role}:${onTeam}`;
  if (!charts.has(key)) {
    const viewer = viewers.get(role)!;
    const since = await auditHead(handle.db);
    const chart = await getChart(viewer, onTeam ? onTeamPatient : offTeamPatient);
    const audit = await handle.db
      .select()
      .from(auditLog)
      .where(and(gt(auditLog.seq, since), eq(auditLog.userId, viewer.userId), eq(auditLog.actionType, 'chart.view')));
    charts.set(key, chart);
    expect(audit, 'each chart open is audited once').toHaveLength(1);
    Object.assign(chart, { __audit: audit[0] });
  }
  return charts.get(key) as Awaited<ReturnType<typeof getChart>> & { __audit: typeof auditLog.$inferSelect };
}

function sectionShown(chart: ChartView, section: ChartSection): boolean {
  if (section === 'demographics') return chart.demographics !== null;
  if (section === 'insurance') return chart.insurance !== null;
  return chart.sections[section as EntrySection] !== undefined;
}

/** Runs one write cell; returns whether it was allowed, after checking the audit and the data. */
async function runWrite(viewer: Viewer, patientId: string, section: ChartSection, action: 'add' | 'update' | 'billing_status'): Promise<boolean> {
  const before = await snapshotCharts(handle.db);
  const since = await auditHead(handle.db);
  let result;
  if (action === 'add') {
    result = await addEntry(viewer, { patientId, section: section as EntrySection, body: isEntry(section) ? validBodies[section] : {} });
  } else if (action === 'update') {
    const row = isEntry(section) ? await firstEntry(handle.db, section, patientId) : { id: patientId, version: 1 };
    result = await updateEntry(viewer, { patientId, section: section as EntrySection, recordId: row.id, expectedVersion: row.version, changes: {} });
  } else {
    const row = await firstEntry(handle.db, 'encounters', patientId);
    result = await setBillingStatus(viewer, { patientId, encounterId: row.id, expectedVersion: row.version, status: 'submitted' });
  }
  const entries = (await handle.db.select().from(auditLog).where(and(gt(auditLog.seq, since), eq(auditLog.userId, viewer.userId)))).filter(
    (e) => e.actionType.startsWith(`${section}.`) || e.actionType === 'chart.write',
  );
  if (result.ok) {
    expect(entries.map((e) => e.outcome)).toEqual(['allowed']);
    return true;
  }
  expect(result.error, `refusal of ${section} ${action}`).toBe('denied');
  expect(entries, 'a denied write leaves exactly one audit entry').toHaveLength(1);
  expect(entries[0]!.outcome).toBe('denied');
  expect(await snapshotCharts(handle.db), 'a denied write changes nothing').toBe(before);
  return false;
}

describe.each(roleNames.map((r) => [r] as const))('%s', (role) => {
  describe.each([[true], [false]] as const)('on care team: %s', (onTeam) => {
    describe.each(chartSections.map((s) => [s] as const))('%s', (section) => {
      const allowRead = expected(role, section, 'read', onTeam);
      it(`read → ${allowRead ? 'allowed' : 'denied'}`, async () => {
        const chart = await chartFor(role, onTeam);
        const audit = chart.__audit;
        if (!chart.ok) {
          expect(allowRead).toBe(false);
          expect(audit.outcome).toBe('denied');
          // A denial returns no data at all: only the refusal (and whether to offer break-glass).
          expect(Object.keys(chart).sort()).toEqual(['__audit', 'error', 'message', 'ok']);
          return;
        }
        expect(sectionShown(chart.value, section), `${section} present in the view model`).toBe(allowRead);
        expect(audit.outcome).toBe('allowed');
        const details = audit.details as { sections: string[]; withheld: string[] };
        expect(details.sections.includes(section)).toBe(allowRead);
        expect(details.withheld.includes(section), 'a section held back by policy is recorded as withheld').toBe(!allowRead);
      });

      const allowWrite = expected(role, section, 'write', onTeam);
      it(`write (add) → ${allowWrite ? 'allowed' : 'denied'}`, async () => {
        const chart = await chartFor(role, onTeam);
        expect(chart.ok && chart.value.writable.includes(section), 'the view offers the write exactly when allowed').toBe(allowWrite);
        const patientId = onTeam ? onTeamPatient : offTeamPatient;
        expect(await runWrite(viewers.get(role)!, patientId, section, 'add')).toBe(allowWrite);
      });
      it(`write (update) → ${allowWrite ? 'allowed' : 'denied'}`, async () => {
        const patientId = onTeam ? onTeamPatient : offTeamPatient;
        expect(await runWrite(viewers.get(role)!, patientId, section, 'update')).toBe(allowWrite);
      });

      if (section === 'encounters') {
        const allowBilling = expected(role, section, 'billing_status', onTeam);
        it(`write (billing status) → ${allowBilling ? 'allowed' : 'denied'}`, async () => {
          const chart = await chartFor(role, onTeam);
          expect(chart.ok && chart.value.billingStatusWritable === true, 'the view offers the status change exactly when allowed').toBe(allowBilling);
          const patientId = onTeam ? onTeamPatient : offTeamPatient;
          expect(await runWrite(viewers.get(role)!, patientId, section, 'billing_status')).toBe(allowBilling);
        });
      }
    });
  });
});

describe('admins and privacy officers see no clinical PHI through chart functions', () => {
  for (const role of ['admin', 'privacy_officer'] as const) {
    it(`${role}: denied on and off the care team, nothing returned`, async () => {
      for (const onTeam of [true, false]) {
        const chart = await chartFor(role, onTeam);
        expect(chart.ok).toBe(false);
        expect(JSON.stringify({ ...chart, __audit: undefined })).not.toMatch(/Matrix|sealed|mrn/i);
      }
    });
  }
});

/**
 * The lens is the role intersected with the relationship (lib/domain/access/care-team.ts): each
 * viewer below holds a role broader than the care-team row that ties them to the patient, and
 * must see exactly what both allow. Written out, like POLICY, so losing the intersection fails.
 */
const LENS_CASES: Array<{ who: string; roles: BuiltInRole[]; relationship: string; read: ChartSection[]; write: EntrySection[] }> = [
  { who: 'a billing clerk who became a nurse, on billing rows', roles: ['billing', 'nurse'], relationship: 'billing', read: ['demographics', 'insurance', 'encounters'], write: [] },
  { who: 'a nurse given a billing row', roles: ['nurse'], relationship: 'billing', read: ['demographics'], write: [] },
  { who: 'a physician on a nursing row', roles: ['physician'], relationship: 'nursing', read: ['demographics', 'allergies', 'medications', 'problems', 'vitals', 'nursing_notes'], write: [] },
  { who: 'a nurse on an attending row', roles: ['nurse'], relationship: 'attending', read: ['demographics', 'allergies', 'medications', 'problems', 'vitals', 'nursing_notes'], write: [] },
];

describe('the relationship narrows the role', () => {
  for (const lens of LENS_CASES) {
    it(`${lens.who}: reads ${lens.read.join(', ')}; writes ${lens.write.join(', ') || 'nothing'}`, async () => {
      const staff = await createStaff(handle.db, { roles: lens.roles, careTeam: [{ patientId: onTeamPatient, relationship: lens.relationship }] });
      const viewer = await signIn(handle.db, staff.email);
      const chart = await getChart(viewer, onTeamPatient);
      expect(chart.ok).toBe(true);
      if (!chart.ok) return;
      expect(chartSections.filter((s) => sectionShown(chart.value, s))).toEqual(chartSections.filter((s) => lens.read.includes(s)));
      expect(chart.value.writable).toEqual(lens.write);
      for (const section of ['vitals', 'nursing_notes', 'progress_notes'] as const) {
        expect(await runWrite(viewer, onTeamPatient, section, 'add'), `add ${section}`).toBe(lens.write.includes(section));
      }
    });
  }
});

it('the matrix covered every chart table', () => {
  expect(Object.keys(chartSectionTables).sort()).toEqual(Object.keys(entrySections).sort());
});
