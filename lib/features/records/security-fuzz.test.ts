/**
 * Attack suites over the records layer (every function that takes an id or text):
 * - IDOR fuzzing: every role, many random and foreign patient/record ids, every function →
 *   denied, no data, no change.
 * - SQL injection: a corpus of classic payloads through the search box and every write field →
 *   no error other than validation, no extra rows, no timing outlier, the database intact, and
 *   text stored byte for byte (parameterised, not escaped or mangled).
 * Deterministic: ids come from a seeded PRNG; change FUZZ_SEED to explore.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '@/db/client';
import { careTeam, chartSectionTables } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { normaliseName } from '@/lib/platform/crypto';
import { PATIENTS_WITH_STRANGERS, snapshotCharts, strangerPatients, testDatabase, viewer as signIn } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { getChart } from '@/lib/features/records/chart';
import { listPatients } from '@/lib/features/records/patients';
import { entrySections, type EntrySection } from '@/lib/features/records/tables';
import { addEntry, setBillingStatus, updateEntry } from '@/lib/features/records/writes';

const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261125);
const ROLES = ['physician', 'physician2', 'nurse', 'billing', 'admin', 'privacy', 'staff01'] as const;
const SECTIONS = Object.keys(entrySections) as EntrySection[];

function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let handle: TestDatabase;
const viewers = new Map<string, Viewer>();
const scope = new Map<string, Set<string>>();
let allPatients: string[] = [];
/** Every chart row: id → patient, per section. */
const records = new Map<EntrySection, Array<{ id: string; patientId: string; version: number }>>();

async function rows<T>(query: ReturnType<typeof sql>): Promise<T[]> {
  return rowsOf<T>(await handle.db.execute(query));
}

beforeAll(async () => {
  handle = await testDatabase({ patients: PATIENTS_WITH_STRANGERS });
  for (const role of ROLES) viewers.set(role, await signIn(handle.db, `${role}@vigil.test`));
  const team = await handle.db.select({ userId: careTeam.userId, patientId: careTeam.patientId }).from(careTeam);
  for (const [role, viewer] of viewers) scope.set(role, new Set(team.filter((t) => t.userId === viewer.userId).map((t) => t.patientId)));
  allPatients = (await rows<{ id: string }>(sql`SELECT id FROM patients ORDER BY id`)).map((r) => r.id);
  for (const section of SECTIONS) {
    const table = chartSectionTables[section];
    records.set(section, await handle.db.select({ id: table.id, patientId: table.patientId, version: table.version }).from(table));
  }
}, 180_000);

afterAll(async () => handle?.close());

describe('IDOR fuzzing over lib/features/records', () => {
  it('every role, random and foreign ids, every function: denied, no data, no change', async () => {
    const random = prng(FUZZ_SEED);
    const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)]!;
    const before = await snapshotCharts(handle.db);
    const strangers = await strangerPatients(handle.db);
    let attempts = 0;

    for (const [role, viewer] of viewers) {
      const mine = scope.get(role)!;
      const foreign = allPatients.filter((id) => !mine.has(id));
      const ids = [
        ...strangers,
        ...Array.from({ length: 8 }, () => pick(foreign)),
        ...Array.from({ length: 6 }, () => randomUUID()),
        '00000000-0000-0000-0000-000000000000',
        'not-a-uuid',
        `${pick(foreign)}' OR '1'='1`,
      ];
      const ownPatient = [...mine][0];

      for (const patientId of ids) {
        const chart = await getChart(viewer, patientId);
        expect(chart.ok, `${role} getChart(${patientId})`).toBe(false);
        expect(Object.keys(chart).sort(), `${role}: a denial carries no chart data`).toEqual(['error', 'message', 'ok']);
        attempts++;

        const section = pick(SECTIONS);
        const body = { writtenAt: new Date().toISOString(), author: 'Fuzz', text: 'IDOR fuzz must never be stored', substance: 'x', reaction: 'y', severity: 'mild', notedOn: '2026-01-01' };
        const added = await addEntry(viewer, { patientId, section, body });
        expect(added.ok, `${role} addEntry(${section}, ${patientId})`).toBe(false);

        const foreignRecords = records.get(section)!.filter((r) => !mine.has(r.patientId));
        const record = foreignRecords.length ? pick(foreignRecords) : { id: randomUUID(), patientId, version: 1 };
        // The record's own (foreign) patient, the fuzzed patient, and the viewer's own patient
        // (a foreign record smuggled under a chart the viewer may write).
        for (const claimed of [record.patientId, patientId, ownPatient].filter((p): p is string => !!p)) {
          const updated = await updateEntry(viewer, { patientId: claimed, section, recordId: record.id, expectedVersion: record.version, changes: { status: 'stopped' } });
          expect(updated.ok, `${role} updateEntry(${section}, patient ${claimed}, record ${record.id})`).toBe(false);
          const encounter = pick(records.get('encounters')!.filter((r) => !mine.has(r.patientId)));
          const billed = await setBillingStatus(viewer, { patientId: claimed, encounterId: encounter.id, expectedVersion: encounter.version, status: 'paid' });
          expect(billed.ok, `${role} setBillingStatus(patient ${claimed}, encounter ${encounter.id})`).toBe(false);
          attempts += 2;
        }
        attempts++;
      }

      const list = await listPatients(viewer, { q: '' });
      for (const row of list.ok ? list.value.rows : []) expect(mine.has(row.id), `${role} lists a patient outside their scope`).toBe(true);
    }
    expect(attempts).toBeGreaterThan(500);
    expect(await snapshotCharts(handle.db), 'a refused attempt changed a chart').toBe(before);
  }, 300_000);
});

const SQLI = [
  "' OR '1'='1",
  "' OR 1=1 --",
  '" OR ""="',
  "') OR ('a'='a",
  "admin'--",
  "' UNION SELECT id, sealed_demographics FROM patients --",
  "' UNION ALL SELECT NULL, NULL, NULL --",
  "1; DROP TABLE patients; --",
  "'; DELETE FROM audit_log; --",
  "'; UPDATE users SET disabled_at = now(); --",
  "x'); INSERT INTO care_team (patient_id, user_id) SELECT id, id FROM patients; --",
  "'; SELECT pg_sleep(5); --",
  "' AND 1=(SELECT 1 FROM pg_sleep(5)) --",
  "1' AND (SELECT COUNT(*) FROM generate_series(1,50000000)) > 0 --",
  "/**/OR/**/1=1",
  "' OR 'x' LIKE '%",
  "%' --",
  "\\' OR 1=1 --",
  "'||(SELECT current_user)||'",
  "$$; DROP TABLE users; $$",
  "SLEEP(5)#",
  "1'; COPY patients TO '/tmp/x'; --",
  "' OR EXISTS(SELECT * FROM users) AND ''='",
  "O'Donnell' --",
  "40000001' OR '1'='1",
  "1970-01-01' OR '1'='1",
  "jaVasCript:/*-/*`/*\\`/*'/*\"/**/(/* */oNcliCk=alert() )//%0D%0A%0d%0a//</stYle/</titLe/</teXtarEa/</scRipt/--!>",
  "\u0000' OR 1=1 --",
];

describe('SQL injection corpus through lib/features/records', () => {
  async function counts() {
    return rows<Record<string, number>>(sql`
      SELECT (SELECT count(*)::int FROM patients) AS patients, (SELECT count(*)::int FROM users) AS users,
             (SELECT count(*)::int FROM care_team) AS care_team,
             (SELECT count(*)::int FROM users WHERE disabled_at IS NOT NULL) AS disabled`);
  }
  const timed = async <T>(label: string, work: () => Promise<T>, timings: number[]): Promise<T> => {
    const started = performance.now();
    const result = await work();
    const ms = performance.now() - started;
    timings.push(ms);
    // pg_sleep(5) or a 50M-row generate_series would break this generous bound.
    expect(ms, `${label} took ${ms.toFixed(0)} ms`).toBeLessThan(2_000);
    return result;
  };

  it('search: no error, no extra rows, no timing outlier, database intact', async () => {
    const viewer = viewers.get('physician')!;
    const mine = scope.get('physician')!;
    const before = await counts();
    const timings: number[] = [];
    for (const payload of SQLI) {
      const search = () => listPatients(viewer, { q: payload, page: payload });
      if (payload.length > 100) {
        // Over the search box's limit: refused by validation (zod) before any query runs.
        const refused = await timed('long search', search, timings);
        expect(refused).toMatchObject({ ok: false, error: 'invalid', message: expect.stringMatching(/at most 100 characters/) });
        continue;
      }
      const searched = await timed(`search ${JSON.stringify(payload)}`, search, timings);
      if (!searched.ok) throw new Error(`search ${payload} was refused: ${searched.message}`);
      const list = searched.value;
      for (const row of list.rows) {
        expect(mine.has(row.id), `search ${payload} returned a patient outside scope`).toBe(true);
        // A last-name search only ever returns patients whose name starts with the query.
        expect(normaliseName(row.name.split(',')[0]!).startsWith(normaliseName(payload.trim())), `search ${payload} returned ${row.id}`).toBe(true);
      }
      expect(list.rows.length).toBeLessThanOrEqual(mine.size);
    }
    expect(await counts()).toEqual(before);
    timings.sort((a, b) => a - b);
    console.info(`SQLi search: ${timings.length} calls, p50 ${timings[timings.length >> 1]!.toFixed(1)} ms, max ${timings.at(-1)!.toFixed(1)} ms`);
  });

  it('every write field and id: stored literally or refused as invalid, never executed', async () => {
    const physician = viewers.get('physician')!;
    const nurse = viewers.get('nurse')!;
    const patientId = [...scope.get('physician')!].find((id) => scope.get('nurse')!.has(id))!;
    const before = await counts();
    const timings: number[] = [];
    for (const payload of SQLI) {
      const text = payload.replace(/\u0000/g, '') || 'x';
      const note = await timed('note', () => addEntry(physician, { patientId, section: 'progress_notes', body: { writtenAt: new Date().toISOString(), author: 'Dr. Test', text } }), timings);
      expect(note.ok, `note ${payload}`).toBe(true);
      const short = text.slice(0, 100);
      const allergy = await timed('allergy', () => addEntry(physician, { patientId, section: 'allergies', body: { substance: short, reaction: short, severity: 'mild', notedOn: '2026-01-01' } }), timings);
      expect(allergy.ok).toBe(true);
      const med = await timed('medication', () => addEntry(physician, { patientId, section: 'medications', body: { name: short, dose: text.slice(0, 50), route: text.slice(0, 30), frequency: text.slice(0, 50), startedOn: '2026-01-01', status: 'active' } }), timings);
      expect(med.ok).toBe(true);
      const problem = await timed('problem', () => addEntry(physician, { patientId, section: 'problems', body: { description: short, icd10: payload, onsetOn: '2026-01-01', status: 'active' } }), timings);
      expect(problem.ok ? 'ok' : problem.error, `problem with icd10 ${payload}`).toBe('invalid');
      const vitals = await timed('vitals', () => addEntry(nurse, { patientId, section: 'vitals', body: { takenAt: new Date().toISOString(), heartRate: payload, systolic: 120, diastolic: 80, temperatureC: 37, respiratoryRate: 14, spo2: 98 } }), timings);
      expect(vitals.ok ? 'ok' : vitals.error).toBe('invalid');
      // Ids and versions from a form are attacker-controlled too.
      const update = await timed('update', () => updateEntry(physician, { patientId, section: 'medications', recordId: payload, expectedVersion: 1, changes: { status: payload } }), timings);
      expect(update.ok).toBe(false);
      const foreignPatient = await timed('write to id', () => addEntry(physician, { patientId: payload, section: 'progress_notes', body: { writtenAt: new Date().toISOString(), author: 'x', text: 'x' } }), timings);
      expect(foreignPatient.ok ? 'ok' : foreignPatient.error).toBe('denied');
      const billing = await timed('billing', () => setBillingStatus(viewers.get('billing')!, { patientId, encounterId: payload, expectedVersion: 1, status: payload }), timings);
      expect(billing.ok).toBe(false);
    }
    // Stored byte for byte: read back through the chart.
    const chartResult = await getChart(physician, patientId);
    if (!chartResult.ok) throw new Error('physician lost access');
    const chart = chartResult.value;
    const texts = new Set([
      ...(chart.sections.progress_notes?.status === 'ok' ? chart.sections.progress_notes.entries.map((e) => e.body.text) : []),
    ]);
    for (const payload of SQLI.slice(-10)) expect(texts.has(payload.replace(/\u0000/g, '') || 'x'), `note ${payload} read back`).toBe(true);
    expect(await counts()).toEqual(before);
    const tables = await rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`);
    expect(tables[0]!.n).toBeGreaterThan(10);
  });
});
