import 'server-only';
import { desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable } from '@/db/client';
import { breakGlassGrants, patients } from '@/db/schema';
import { canBreakGlass, decide, type Decision, type Relationship } from '@/lib/domain/access/policy';
import { chartPermission } from '@/lib/domain/access/permission-names';
import { chartSections, type ChartSection } from '@/lib/domain/access/roles';
import { isUuid } from '@/lib/domain/ids';
import { fail, ok, type Result } from '@/lib/domain/result';
import { DecryptionError, getPatientCipher, type PatientCipher } from '@/lib/platform/crypto';
import type { Demographics, Insurance } from '@/lib/domain/chart/sections';
import { operation, type Verdict } from '@/lib/pipeline/operation';
import { loadRelationship } from '@/lib/pipeline/relationship';
import { loadSealedPages, openPage, pageKey, type PageEntries } from '@/lib/features/records/pages';
import { entrySections, isEntrySection, sectionRowLimit, type EntrySection } from '@/lib/features/records/tables';
import { auditActions } from '@/lib/domain/audit/actions';

export interface ChartEntry<T = Record<string, unknown>> {
  id: string;
  version: number;
  createdAt: string;
  billingStatus?: string;
  body: T;
}

export type SectionView =
  | { status: 'ok'; entries: ChartEntry[] }
  | { status: 'unavailable' }
  | { status: 'erased' };

export interface ChartView {
  patientId: string;
  demographics: { status: 'ok'; value: Demographics; version: number } | { status: 'unavailable' | 'erased' } | null;
  insurance: { status: 'ok'; value: Insurance } | { status: 'unavailable' | 'erased' } | null;
  /** Only the sections the viewer may read; others are absent, not empty. */
  sections: Partial<Record<EntrySection, SectionView>>;
  writable: ChartSection[];
  /** Billing's one write (an encounter's billing status) is finer than the encounters section. */
  billingStatusWritable?: boolean;
  breakGlass: { grantId: string; expiresAt: string; reasonCode: string } | null;
}

/**
 * A refused chart says nothing about the patient. `break_glass_offered`: refused, but the viewer
 * may ask for emergency access to this chart (the patient exists and their role could read it).
 */
export type ChartRefusal = 'break_glass_offered';
export const chartDeniedMessage = 'You do not have access to this chart.';

interface Readable {
  relationship: Relationship;
  readable: ChartSection[];
}

/**
 * Opens a chart for a viewer: authorize each section, decrypt only what is allowed, record the
 * view (with the sections shown) in the audit chain in the same transaction, then return the
 * view model. Unknown or malformed ids and missing relationships are indistinguishable denials,
 * so ids cannot be probed.
 */
export const getChart = operation({
  name: 'records.chart.view',
  action: auditActions.chart.view,
  resourceType: 'patient',
  deniedMessage: chartDeniedMessage,
  input: z.string(),
  authorize: async ({ tx, viewer, at, input: patientId }): Promise<Verdict<Readable, ChartRefusal>> => {
    const exists = isUuid(patientId)
      ? (await tx.select({ id: patients.id }).from(patients).where(eq(patients.id, patientId)).limit(1)).length > 0
      : false;
    const relationship = exists ? await loadRelationship(tx, viewer, patientId, at) : { careTeam: null, breakGlassGrantId: null };
    const decisions = new Map<ChartSection, Decision>(chartSections.map((s) => [s, decide(viewer, relationship, 'read', s)]));
    const readable = chartSections.filter((s) => decisions.get(s)?.allowed);
    if (exists && readable.length > 0) return { allowed: true, facts: { relationship, readable } };
    const anyPermission = chartSections.some((s) => {
      const d = decisions.get(s);
      return d?.allowed || d?.reason === 'no_relationship';
    });
    return {
      allowed: false,
      reason: !exists ? 'not_found' : anyPermission ? 'no_relationship' : 'no_permission',
      resourceId: isUuid(patientId) ? patientId : null,
      patientId: exists ? patientId : null,
      answer: exists && anyPermission && canBreakGlass(viewer) ? fail('break_glass_offered', chartDeniedMessage) : undefined,
    };
  },
  run: async ({ tx, viewer, input: patientId, facts, audit }): Promise<Result<ChartView, ChartRefusal>> => {
    const { relationship, readable } = facts;
    const grantId = relationship.careTeam ? null : relationship.breakGlassGrantId;
    const { cipher, unwrapped } = await getPatientCipher(tx, patientId);
    const view = await readChart(tx, patientId, readable, cipher);
    view.writable = chartSections.filter((s) => decide(viewer, relationship, 'write', s).allowed);
    view.billingStatusWritable = decide(viewer, relationship, 'write', 'encounters', chartPermission.billingStatus).allowed;
    view.breakGlass = grantId ? await grantBanner(tx, grantId) : null;
    await audit({
      resourceId: patientId,
      patientId,
      breakGlassGrantId: grantId,
      details: {
        sections: readable,
        withheld: chartSections.filter((s) => !readable.includes(s)),
        unavailable: unavailableSections(view),
        keyUnwrapped: unwrapped,
      },
    });
    return ok(view);
  },
});

/** The sections `readable` of one chart, decrypted: for operations that have already authorized and will audit them. */
export async function readChart(
  db: Queryable,
  patientId: string,
  readable: ChartSection[],
  cipher: PatientCipher | undefined,
): Promise<ChartView> {
  const [patient] = await db.select().from(patients).where(eq(patients.id, patientId)).limit(1);
  const open = <T>(column: string, rowId: string, sealed: string) => {
    if (!cipher) return { status: 'erased' as const };
    try {
      return { status: 'ok' as const, value: cipher.open<T>(column.split('.')[0]!, column.split('.')[1]!, rowId, sealed) };
    } catch (error) {
      if (error instanceof DecryptionError) return { status: 'unavailable' as const };
      throw error;
    }
  };
  const view: ChartView = {
    patientId,
    demographics: null,
    insurance: null,
    sections: {},
    writable: [],
    billingStatusWritable: false,
    breakGlass: null,
  };
  if (readable.includes('demographics')) {
    const opened = open<Demographics>('patients.sealed_demographics', patientId, patient!.sealedDemographics);
    view.demographics = opened.status === 'ok' ? { ...opened, version: patient!.version } : opened;
  }
  if (readable.includes('insurance')) {
    view.insurance = open<Insurance>('patients.sealed_insurance', patientId, patient!.sealedInsurance);
  }
  const sections = readable.filter(isEntrySection);
  const rowsBySection = await Promise.all(
    sections.map((section) => {
      const { table } = entrySections[section];
      return db
        .select()
        .from(table)
        .where(eq(table.patientId, patientId))
        .orderBy(desc(table.createdAt), desc(table.id))
        .limit(sectionRowLimit[section]);
    }),
  );
  const wanted = new Map(sections.map((section, i) => [section, pageNumbers(rowsBySection[i]!)]));
  const sealedPages = cipher ? await loadSealedPages(db, patientId, wanted) : new Map<string, string>();
  sections.forEach((section, i) => {
    view.sections[section] = openSection(section, rowsBySection[i]!, sealedPages, cipher);
  });
  return view;
}

interface EntryRow {
  id: string;
  version: number;
  createdAt: Date;
  pageNo: number | null;
  billingStatus?: string;
}

function pageNumbers(rows: EntryRow[]): number[] {
  return [...new Set(rows.flatMap((row) => (row.pageNo === null ? [] : [row.pageNo])))];
}

function openSection(
  section: EntrySection,
  rows: EntryRow[],
  sealedPages: ReadonlyMap<string, string>,
  cipher: PatientCipher | undefined,
): SectionView {
  if (!cipher) return { status: 'erased' };
  try {
    const opened = new Map<number, PageEntries>();
    const pageFor = (pageNo: number | null): PageEntries => {
      if (pageNo === null) throw new DecryptionError(`${section}.page_no`);
      let page = opened.get(pageNo);
      if (!page) {
        const sealed = sealedPages.get(pageKey(section, pageNo));
        if (sealed === undefined) throw new DecryptionError(`${section}.page_no`);
        page = openPage(cipher, section, pageNo, sealed);
        opened.set(pageNo, page);
      }
      return page;
    };
    return {
      status: 'ok',
      entries: rows.map((row) => {
        const page = pageFor(row.pageNo);
        // An entry row pointed at a page that does not hold it (moved, or tampered with).
        if (!Object.hasOwn(page, row.id)) throw new DecryptionError(`${section}.page_no`);
        const body = page[row.id]!;
        return {
          id: row.id,
          version: row.version,
          createdAt: row.createdAt.toISOString(),
          ...(row.billingStatus ? { billingStatus: row.billingStatus } : {}),
          body,
        };
      }),
    };
  } catch (error) {
    // One unreadable entry makes the section unavailable as a whole: a partial list could mislead.
    if (error instanceof DecryptionError) return { status: 'unavailable' };
    throw error;
  }
}

function unavailableSections(view: ChartView): string[] {
  const bad = Object.entries(view.sections)
    .filter(([, s]) => s.status !== 'ok')
    .map(([name]) => name);
  if (view.demographics && view.demographics.status !== 'ok') bad.push('demographics');
  if (view.insurance && view.insurance.status !== 'ok') bad.push('insurance');
  return bad;
}

async function grantBanner(db: Queryable, grantId: string): Promise<ChartView['breakGlass']> {
  const [grant] = await db.select().from(breakGlassGrants).where(eq(breakGlassGrants.id, grantId)).limit(1);
  return grant ? { grantId, expiresAt: grant.expiresAt.toISOString(), reasonCode: grant.reasonCode } : null;
}
