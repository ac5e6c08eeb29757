/**
 * The PHI map must cover the schema: every column of a mapped table is classified exactly once,
 * every table that refers to a patient is mapped or excluded here with a reason, and every
 * `sealed_*` column anywhere is accounted for. A new PHI table or column fails this test until
 * someone decides what it is.
 */
import { getTableColumns, is, sql } from 'drizzle-orm';
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '@/db/schema';
import { rowsOf } from '@/db/client';
import type { TestDatabase } from '@/test/db';
import { testDatabase } from '@/test/fixtures';
import { phiFieldNames, phiMap } from '@/lib/platform/log/phi-map';

/** Tables that mention a patient but hold no PHI of their own, and why. */
const notPhiTables: Record<string, string> = {
  care_team: 'who treats whom: ids, relationship kind and dates; access control needs it in plain',
  patient_keys: 'the wrapped data key (ciphertext under a master key) and its version; no clinical data',
  visits: 'a video visit’s bookkeeping: ids, times, the consent answer and the digest of the patient browser’s secret; the call itself is never stored',
  recordings: 'a recording’s bookkeeping: ids, times, the container type and the chunk count; the media is in recording_chunks, sealed',
  chart_section_heads: 'page versions and entry counts of a section, sealed with the patient key to vouch for its pages; no clinical data',
  api_client_patients: 'which machine client may write into which chart: ids and dates; access control needs it in plain',
  audit_log: 'PHI-free details by contract; before/after state is sealed with the patient key (sealed_before, sealed_after below)',
};

/** Sealed columns outside the PHI map, and the key that seals them. */
const sealedOutsideMap: Record<string, string> = {
  'users.sealed_totp_secret': 'system key: a user secret, not PHI',
  'incidents.sealed_resolution_comment': 'system key: a case concerns a user, not one patient, yet its free-text comment may name PHI',
  'chart_section_heads.sealed_head': "the patient's data key: page versions and counts, sealed so only Vigil can vouch for a section (lib/features/records/pages.ts)",
  'audit_log.sealed_before': "the patient's data key (lib/platform/audit seals it through the patient cipher)",
  'audit_log.sealed_after': "the patient's data key (lib/platform/audit seals it through the patient cipher)",
};

const schemaTables: PgTable[] = (Object.values(schema) as unknown[]).filter((value): value is PgTable => is(value, PgTable));
const tableName = (table: PgTable) => getTableConfig(table).name;
const columnNames = (table: PgTable) => Object.values(getTableColumns(table)).map((c) => c.name);

function refersToPatient(table: PgTable): boolean {
  const config = getTableConfig(table);
  const foreign = config.foreignKeys.some((fk) => tableName(fk.reference().foreignTable) === 'patients');
  return foreign || config.columns.some((c) => c.name === 'patient_id');
}

describe('the PHI map', () => {
  it('classifies every column of every mapped table exactly once, and names no column that does not exist', () => {
    for (const [name, entry] of Object.entries(phiMap)) {
      expect(tableName(entry.table), `phiMap.${name} points at another table`).toBe(name);
      const actual = columnNames(entry.table).sort();
      const phi = Object.keys(entry.phi);
      const plain: readonly string[] = entry.plain;
      const both = phi.filter((c) => plain.includes(c));
      expect(both, `${name}: classified as both phi and plain`).toEqual([]);
      expect(new Set(plain).size, `${name}: a plain column is listed twice`).toBe(plain.length);
      expect([...phi, ...plain].sort(), `${name}: unclassified or unknown columns`).toEqual(actual);
    }
  });

  it('keeps PHI only in sealed text columns', () => {
    for (const [name, entry] of Object.entries(phiMap)) {
      const columns = getTableColumns(entry.table);
      for (const phiColumn of Object.keys(entry.phi)) {
        const column = Object.values(columns).find((c) => c.name === phiColumn)!;
        expect(phiColumn, `${name}.${phiColumn}`).toMatch(/^sealed_/);
        expect(column.getSQLType(), `${name}.${phiColumn}`).toBe('text');
      }
      for (const plainColumn of entry.plain) expect(plainColumn, `${name}.${plainColumn} looks sealed but is listed plain`).not.toMatch(/^sealed_/);
    }
  });

  it('maps every table that refers to a patient, or excludes it here with a reason', () => {
    const referring = schemaTables.filter(refersToPatient).map(tableName);
    expect(referring.length).toBeGreaterThan(5);
    const unmapped = referring.filter((name) => !(name in phiMap) && !(name in notPhiTables));
    expect(unmapped, 'tables that refer to a patient but are not in lib/platform/log/phi-map.ts').toEqual([]);
    // Exclusions must stay true: an excluded table that grows a sealed column needs a decision.
    for (const name of Object.keys(notPhiTables)) {
      const table = schemaTables.find((t) => tableName(t) === name);
      expect(table, `excluded table ${name} no longer exists: drop it from this list`).toBeDefined();
      const sealed = columnNames(table!).filter((c) => c.startsWith('sealed_')).map((c) => `${name}.${c}`);
      for (const column of sealed) expect(Object.keys(sealedOutsideMap)).toContain(column);
    }
    expect(Object.keys(phiMap)).toContain('patients');
  });

  it('accounts for every sealed column in the schema', () => {
    const sealed = schemaTables.flatMap((t) =>
      columnNames(t)
        .filter((c) => c.startsWith('sealed_'))
        .map((c) => `${tableName(t)}.${c}`),
    );
    const mapped = Object.entries(phiMap).flatMap(([name, entry]) => Object.keys(entry.phi).map((c) => `${name}.${c}`));
    const unaccounted = sealed.filter((c) => !mapped.includes(c) && !(c in sealedOutsideMap));
    expect(unaccounted).toEqual([]);
    expect(Object.keys(sealedOutsideMap).filter((c) => !sealed.includes(c)), 'stale entries in sealedOutsideMap').toEqual([]);
  });

  it('lists the field names inside sealed values for log redaction', () => {
    for (const field of ['sealed_demographics', 'familyName', 'givenName', 'mrn', 'dateOfBirth', 'phone', 'memberId', 'text', 'substance', 'icd10']) {
      expect(phiFieldNames.has(field), field).toBe(true);
    }
  });
});

describe('the PHI map against the migrated database', () => {
  let handle: TestDatabase;
  beforeAll(async () => {
    handle = await testDatabase({ empty: true });
  });
  afterAll(async () => handle?.close());

  it('matches the columns the migrations actually create, and every table with a patient_id', async () => {
    const list = rowsOf<{ table_name: string; column_name: string }>(
      await handle.db.execute(sql`SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'`),
    );
    const byTable = new Map<string, string[]>();
    for (const { table_name, column_name } of list) byTable.set(table_name, [...(byTable.get(table_name) ?? []), column_name]);

    for (const [name, entry] of Object.entries(phiMap)) {
      expect((byTable.get(name) ?? []).sort(), `${name} in the database`).toEqual([...Object.keys(entry.phi), ...entry.plain].sort());
    }
    const withPatient = [...byTable].filter(([, columns]) => columns.includes('patient_id')).map(([name]) => name);
    expect(withPatient.filter((name) => !(name in phiMap) && !(name in notPhiTables))).toEqual([]);
  });
});
