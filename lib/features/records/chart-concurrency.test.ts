/**
 * A chart read takes its entry rows and its sealed pages in two statements. A vitals write that
 * commits between them (another nurse at the same bedside, another portal instance) leaves rows
 * that disagree with the pages for a moment: that must read as the newer chart, not as tampering.
 * The write is made to land exactly there by running it just before the pages are loaded.
 */
import { and, desc, eq, gt } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Tx } from '@/db/client';
import { auditLog } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { auditActions } from '@/lib/domain/audit/actions';
import { getPatientCipher } from '@/lib/platform/crypto';
import { getChart } from '@/lib/features/records/chart';
import { insertEntry } from '@/lib/features/records/writes';
import { patientOnTeamOf, testDatabase, viewer } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';

/** Runs once, in the reader's transaction, right before its pages are loaded. */
let betweenStatements: ((tx: Tx) => Promise<void>) | undefined;

vi.mock('@/lib/features/records/pages', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@/lib/features/records/pages')>();
  return {
    ...actual,
    loadSealedPages: async (...args: Parameters<typeof actual.loadSealedPages>) => {
      const run = betweenStatements;
      betweenStatements = undefined;
      await run?.(args[0] as Tx);
      return actual.loadSealedPages(...args);
    },
  };
});

let handle: TestDatabase;
let nurse: Viewer;

beforeAll(async () => {
  handle = await testDatabase({ patients: 6 });
  nurse = await viewer(handle.db, 'nurse@vigil.test');
});
afterAll(async () => handle?.close());

describe('a chart read racing a write', () => {
  it('shows the newer vitals, and reports no tampering, when a write lands between its statements', async () => {
    const patientId = await patientOnTeamOf(handle.db, nurse.userId);
    const before = await getChart(nurse, patientId);
    expect(before.ok && before.value.sections.vitals).toMatchObject({ status: 'ok' });
    const [{ seq: since } = { seq: 0 }] = await handle.db.select({ seq: auditLog.seq }).from(auditLog).orderBy(desc(auditLog.seq)).limit(1);

    betweenStatements = async (tx) => {
      const { cipher } = await getPatientCipher(tx, patientId);
      const id = await insertEntry(tx, cipher!, 'vitals', nurse.userId, {
        takenAt: new Date().toISOString(), heartRate: 71, systolic: 118, diastolic: 76, temperatureC: 36.7, respiratoryRate: 15, spo2: 97,
      });
      expect(id).toBeDefined();
    };
    const after = await getChart(nurse, patientId);
    expect(betweenStatements, 'the write ran inside the read').toBeUndefined();
    expect(after.ok && after.value.sections.vitals).toMatchObject({ status: 'ok' });
    if (after.ok && after.value.sections.vitals?.status === 'ok') {
      expect(after.value.sections.vitals.entries.some((e) => e.body.heartRate === 71)).toBe(true);
    }
    const tampered = await handle.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.actionType, auditActions.integrity.tampered), gt(auditLog.seq, since)));
    expect(tampered).toEqual([]);
  });
});
