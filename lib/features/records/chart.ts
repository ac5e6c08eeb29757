import 'server-only';
import { createHash } from 'node:crypto';
import { desc, eq, sql } from 'drizzle-orm';
import { unionAll } from 'drizzle-orm/pg-core';
import { z } from 'zod';
import type { Queryable, Tx } from '@/db/client';
import { builtOnce } from '@/db/statements';
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
import { holdSectionsSteady, loadSealedPages, openSealedSection, type SealedSection } from '@/lib/features/records/pages';
import { reportTampering } from '@/lib/platform/integrity';
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
  /** The patient row the existence check read, so the chart does not read it again. */
  patient: PatientRow;
}

type PatientRow = typeof patients.$inferSelect;

/** A patient's whole row, sealed (every chart open reads it), built once. */
const patientRow = builtOnce('patient_row', (q) => q.select().from(patients).where(eq(patients.id, sql.placeholder('patientId'))).limit(1));

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
    // The whole row, sealed: nothing of it is opened unless a section is allowed below.
    const [patient] = isUuid(patientId) ? await patientRow(tx, { patientId }) : [];
    const exists = patient !== undefined;
    const relationship = exists ? await loadRelationship(tx, viewer, patientId, at) : { careTeam: null, breakGlassGrantId: null };
    const decisions = new Map<ChartSection, Decision>(chartSections.map((s) => [s, decide(viewer, relationship, 'read', s)]));
    const readable = chartSections.filter((s) => decisions.get(s)?.allowed);
    if (patient && readable.length > 0) return { allowed: true, facts: { relationship, readable, patient } };
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
    const { relationship, readable, patient } = facts;
    // The grant is named whenever a section opened through it, also beside a narrower care-team row.
    const throughGrant = readable.some((s) => {
      const d = decide(viewer, relationship, 'read', s);
      return d.allowed && d.via === 'break_glass';
    });
    const grantId = throughGrant ? relationship.breakGlassGrantId : null;
    const { cipher, unwrapped } = await getPatientCipher(tx, patientId);
    const view = await readChart(tx, patientId, readable, cipher, patient);
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

/**
 * The sections `readable` of one chart, decrypted: for operations that have already authorized and
 * will audit them. A section whose pages disagree with its sealed head (a page rolled back, an
 * entry row deleted) reads as unavailable and is reported as tampering in the caller's transaction.
 */
export async function readChart(
  db: Tx,
  patientId: string,
  readable: ChartSection[],
  cipher: PatientCipher | undefined,
  /** The patient's row when the caller read it already in this transaction. */
  read?: PatientRow,
): Promise<ChartView> {
  const [patient] = read ? [read] : await patientRow(db, { patientId });
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
  const opened = await openSections(db, patientId, sections, cipher);
  // Rows and pages are read in two statements: a write committing between them looks just like a
  // deleted or invented row. So a section that disagrees is read once more while no write of it
  // can be in flight, and only a section that still disagrees is unavailable and reported.
  const doubtful = sections.filter((section) => opened.get(section)!.tampered);
  if (doubtful.length > 0) {
    await holdSectionsSteady(db, patientId, doubtful);
    for (const [section, again] of await openSections(db, patientId, doubtful, cipher)) opened.set(section, again);
  }
  for (const section of sections) {
    const { view: sectionView, tampered } = opened.get(section)!;
    view.sections[section] = sectionView;
    if (tampered) await reportTampering(db, { table: 'chart_section_heads', rowId: `${patientId}/${section}`, patientId, what: 'chart_section' });
  }
  return view;
}

/** Each section's shown rows, opened against its pages and sealed head (openSection). */
async function openSections(
  db: Tx,
  patientId: string,
  sections: EntrySection[],
  cipher: PatientCipher | undefined,
): Promise<Map<EntrySection, { view: SectionView; tampered: boolean }>> {
  const rowsBySection = await readSectionRows(db, patientId, sections);
  const wanted = new Map(sections.map((section, i) => [section, pageNumbers(rowsBySection[i]!)]));
  const sealed = cipher ? await loadSealedPages(db, patientId, wanted) : new Map<EntrySection, SealedSection>();
  return new Map(sections.map((section, i) => [section, openSection(section, rowsBySection[i]!, sealed.get(section), cipher)]));
}

/** The statement of readSectionRows for one list of sections (a role's), built once per list. */
function sectionRowsStatement(sections: EntrySection[]) {
  return builtOnce(`chart_rows_${sections.join('_')}`, (q) => {
    const branches = sections.map((section) => {
      const { table } = entrySections[section];
      const order = sql`order by ${table.createdAt} desc, ${table.id} desc`;
      // A digest of every row id on each row's page, so a missing, moved or invented row shows against the sealed head and pages (openSection).
      const pageIds = sql`string_agg(${table.id}::text, ',') over (partition by ${table.pageNo} order by ${table.id} rows between unbounded preceding and unbounded following)`;
      return q
        .select({
          section: sql<string>`${section}::text`.as('section'),
          place: sql<number>`(row_number() over (${order}))::int`.as('place'),
          id: table.id,
          version: table.version,
          createdAt: table.createdAt,
          pageNo: table.pageNo,
          billingStatus: ('billingStatus' in table ? sql<string | null>`${table.billingStatus}` : sql<string | null>`null::text`).as('billing_status'),
          total: sql<number>`(count(*) over ())::int`.as('total'),
          pageDigest: sql<string>`encode(sha256(convert_to(${pageIds}, 'UTF8')), 'hex')`.as('page_digest'),
        })
        .from(table)
        .where(eq(table.patientId, sql.placeholder('patientId')))
        .orderBy(desc(table.createdAt), desc(table.id))
        .limit(sectionRowLimit[section]);
    });
    const [first, second, ...rest] = branches;
    if (!first) throw new Error('A chart read names at least one section.');
    return second ? unionAll(first, second, ...rest) : first;
  });
}
const sectionRowStatements = new Map<string, ReturnType<typeof sectionRowsStatement>>();

/**
 * Each section's shown rows, newest first, every section in one statement (a UNION ALL, one round
 * trip rather than one per section). Each row carries its section, its place in the section's
 * order (rows are put back in that order here, whatever order the union returns them in), how
 * many rows the section has and the page digest, all taken before the section's limit.
 */
async function readSectionRows(db: Tx, patientId: string, sections: EntrySection[]): Promise<EntryRow[][]> {
  if (sections.length === 0) return [];
  const key = sections.join(',');
  let statement = sectionRowStatements.get(key);
  if (!statement) sectionRowStatements.set(key, (statement = sectionRowsStatement(sections)));
  const rows = await statement(db, { patientId });
  const bySection = new Map<string, Array<(typeof rows)[number]>>(sections.map((section) => [section, []]));
  for (const row of rows) bySection.get(row.section)?.push(row);
  return sections.map((section) =>
    (bySection.get(section) ?? [])
      .sort((a, b) => a.place - b.place)
      .map(({ section: _section, place: _place, billingStatus, ...row }) => ({ ...row, ...(billingStatus === null ? {} : { billingStatus }) })),
  );
}

interface EntryRow {
  id: string;
  version: number;
  createdAt: Date;
  pageNo: number | null;
  billingStatus?: string;
  /** Rows of the whole section, and the SHA-256 of the sorted ids of every row on this row's page (not only those shown). */
  total: number;
  pageDigest: string;
}

function pageNumbers(rows: EntryRow[]): number[] {
  return [...new Set(rows.flatMap((row) => (row.pageNo === null ? [] : [row.pageNo])))];
}

/**
 * One section's shown rows against its pages and sealed head. Unavailable when anything
 * disagrees: the head or a page will not open or is older than the head says, a row is not on
 * the page it names, the section's rows are not as many as the head counts, or the rows that
 * name an opened page are not exactly the entries on it — a deleted, moved or invented row.
 * `tampered` tells such a disagreement, which is reported, from a section already erased.
 */
function openSection(section: EntrySection, rows: EntryRow[], sealed: SealedSection | undefined, cipher: PatientCipher | undefined): { view: SectionView; tampered: boolean } {
  if (!cipher) return { view: { status: 'erased' }, tampered: false };
  // Never written: no head and no rows. Rows without a head were not written by Vigil.
  if (rows.length === 0 && !sealed?.head) return { view: { status: 'ok', entries: [] }, tampered: false };
  try {
    const { head, pages } = openSealedSection(cipher, section, sealed);
    const total = rows[0]?.total ?? 0;
    if (total !== head.total) throw new DecryptionError(`${section}.rows`);
    for (const [pageNo, page] of pages) {
      const digest = createHash('sha256').update(Object.keys(page).sort().join(','), 'utf8').digest('hex');
      if (rows.find((row) => row.pageNo === pageNo)?.pageDigest !== digest) throw new DecryptionError(`${section}.rows`);
    }
    return {
      tampered: false,
      view: {
        status: 'ok',
        entries: rows.map((row) => {
          const page = row.pageNo === null ? undefined : pages.get(row.pageNo);
          // An entry row pointed at a page that does not hold it (moved, or tampered with).
          if (!page || !Object.hasOwn(page, row.id)) throw new DecryptionError(`${section}.page_no`);
          return {
            id: row.id,
            version: row.version,
            createdAt: row.createdAt.toISOString(),
            ...(row.billingStatus ? { billingStatus: row.billingStatus } : {}),
            body: page[row.id]!,
          };
        }),
      },
    };
  } catch (error) {
    // One unreadable entry makes the section unavailable as a whole: a partial list could mislead.
    if (error instanceof DecryptionError) return { view: { status: 'unavailable' }, tampered: true };
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
