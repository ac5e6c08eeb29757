/**
 * Upgrading a database whose review and incident comments were stored in plain text: migration
 * 0004 (run here from its own SQL file) renames the columns and marks the old values, and the
 * upgrade step seals every one with nothing lost, resumes after a stop, does nothing the second
 * time, drops only the comments of crypto-shredded patients, and stops on a key that won't open.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '@/db/client';
import { breakGlassGrants, incidents, patientKeys, patients } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { getGrantReview } from '@/lib/features/break-glass';
import { evictDataKey, getPatientCipher } from '@/lib/platform/crypto';
import { withMac } from '@/lib/platform/integrity';
import { shredPatient } from '@/lib/ops/keys/shred';
import { getIncidentCase, resolveIncident } from '@/lib/features/monitor';
import { dumpEverything, testDatabase, viewer } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { countPlainComments, PLAIN_COMMENT_MARKER, sealPlainComments, type SealCommentsProgress } from '@/lib/ops/upgrades/seal-plain-comments';

let handle: TestDatabase;
let db: Db;
let privacy: Viewer;
let physician2: Viewer;
let ids: string[];

/** Every comment carries "Larkspurwood", so a dump shows whether any is still in plain text. */
const comment = (n: number) => `Reviewed: Larkspurwood case ${n}, spoke to the ward manager.`;

beforeAll(async () => {
  handle = await testDatabase({ patients: 5 });
  db = handle.db;
  privacy = await viewer(db, 'privacy@vigil.test');
  physician2 = await viewer(db, 'physician2@vigil.test');
  ids = (await db.select({ id: patients.id }).from(patients).orderBy(patients.id)).map((p) => p.id);
});
afterAll(async () => handle?.close());

async function insertGrant(patientId: string, reviewed: boolean): Promise<string> {
  const id = randomUUID();
  const { cipher } = await getPatientCipher(db, patientId);
  await db.insert(breakGlassGrants).values(
    withMac('break_glass_grants', {
      id,
      userId: physician2.userId,
      patientId,
      sessionId: null,
      reasonCode: 'covering_clinician',
      sealedJustification: cipher!.seal('break_glass_grants', 'sealed_justification', id, 'Covering the ward overnight for the treating team.'),
      expiresAt: new Date(Date.now() + 3_600_000),
      endedAt: null,
      ...(reviewed ? { reviewStatus: 'appropriate', reviewerId: privacy.userId, reviewedAt: new Date() } : { reviewStatus: 'pending', reviewerId: null, reviewedAt: null }),
    }),
  );
  return id;
}

async function insertIncident(n: number, resolved: boolean): Promise<string> {
  const [row] = await db
    .insert(incidents)
    .values({
      userId: physician2.userId,
      severity: 'LOW',
      rule: 'off_hours',
      details: {},
      windowStart: new Date(Date.UTC(2026, 10, n)),
      ...(resolved ? { status: 'resolved_appropriate', resolvedBy: privacy.userId, resolvedAt: new Date() } : {}),
    })
    .returning({ id: incidents.id });
  return row!.id;
}

/** The tables as migration 0003 left them, with plain comments, then migration 0004 as shipped. */
async function upgradeFromPlainComments(grantComments: Map<string, string>, caseComments: Map<string, string>): Promise<void> {
  await db.execute(sql`ALTER TABLE break_glass_grants RENAME COLUMN sealed_review_comment TO review_comment`);
  await db.execute(sql`ALTER TABLE incidents RENAME COLUMN sealed_resolution_comment TO resolution_comment`);
  for (const [id, text] of grantComments) await db.execute(sql`UPDATE break_glass_grants SET review_comment = ${text} WHERE id = ${id}`);
  for (const [id, text] of caseComments) await db.execute(sql`UPDATE incidents SET resolution_comment = ${text} WHERE id = ${id}`);
  const migration = readFileSync(path.join(process.cwd(), 'db/migrations/0004_seal_review_comments.sql'), 'utf8');
  for (const statement of migration.split('--> statement-breakpoint')) await db.execute(sql.raw(statement));
}

async function storedComments(): Promise<Map<string, string | null>> {
  const grants = await db.select({ id: breakGlassGrants.id, value: breakGlassGrants.sealedReviewComment }).from(breakGlassGrants);
  const cases = await db.select({ id: incidents.id, value: incidents.sealedResolutionComment }).from(incidents);
  return new Map([...grants, ...cases].map((r) => [r.id, r.value]));
}

describe('sealing comments stored before 0004', () => {
  const grantComments = new Map<string, string>();
  const caseComments = new Map<string, string>();
  let pendingGrant: string;
  let openCase: string;
  let shreddedGrant: string;
  let sealedCase: string;

  beforeAll(async () => {
    for (const [n, patientId] of [ids[0]!, ids[1]!, ids[1]!, ids[2]!, ids[3]!].entries()) {
      grantComments.set(await insertGrant(patientId, true), comment(n));
    }
    shreddedGrant = [...grantComments.keys()][4]!;
    pendingGrant = await insertGrant(ids[0]!, false);
    for (const n of [1, 2, 3]) caseComments.set(await insertIncident(n, true), comment(10 + n));
    openCase = await insertIncident(4, false);
    sealedCase = await insertIncident(5, false);

    await upgradeFromPlainComments(grantComments, caseComments);
    // Decided after the migration, before the step ran: sealed already, so the step leaves it alone.
    expect((await resolveIncident(privacy, { incidentId: sealedCase, decision: 'confirmed', comment: 'Referred to HR after the interview.' })).ok).toBe(true);
  });

  it('the migration keeps every plain comment, marked for the upgrade step; they read as unavailable until then', async () => {
    const stored = await storedComments();
    for (const [id, text] of [...grantComments, ...caseComments]) expect(stored.get(id)).toBe(`${PLAIN_COMMENT_MARKER}${text}`);
    expect(stored.get(pendingGrant)).toBeNull();
    expect(stored.get(openCase)).toBeNull();
    expect(stored.get(sealedCase)).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(await countPlainComments(db)).toBe(grantComments.size + caseComments.size);
    // Positive control for the dump checks below: the plain text really is there now.
    expect((await dumpEverything(db)).text).toMatch(/Larkspurwood/);

    const [grantId] = grantComments.keys();
    const review = await getGrantReview(privacy, grantId!);
    expect(review.ok && review.value.reviewComment).toEqual({ status: 'unavailable' });
    const [caseId] = caseComments.keys();
    const shown = await getIncidentCase(privacy, caseId!);
    expect(shown.ok && shown.value.incident.resolutionComment).toEqual({ status: 'unavailable' });
  });

  it('stops, changing nothing of the batch, when a patient key will not open', async () => {
    const victim = (await db.select().from(breakGlassGrants).where(eq(breakGlassGrants.id, [...grantComments.keys()][0]!)))[0]!.patientId;
    const [own] = await db.select().from(patientKeys).where(eq(patientKeys.patientId, victim));
    const [other] = await db.select().from(patientKeys).where(eq(patientKeys.patientId, ids[4]!));
    // Another patient's wrapped key does not unwrap here (it is bound to its own patient).
    await db.update(patientKeys).set({ wrappedKey: other!.wrappedKey }).where(eq(patientKeys.patientId, victim));
    evictDataKey();
    const before = await storedComments();
    await expect(sealPlainComments(db)).rejects.toThrow(/key would not open/);
    expect(await storedComments()).toEqual(before);
    await db.update(patientKeys).set({ wrappedKey: own!.wrappedKey }).where(eq(patientKeys.patientId, victim));
    evictDataKey();
  });

  it('seals every comment, resuming after a stop; a shredded patient’s comment is dropped and reads as erased', async () => {
    const shreddedPatient = (await db.select().from(breakGlassGrants).where(eq(breakGlassGrants.id, shreddedGrant)))[0]!.patientId;
    expect(await shredPatient(db, shreddedPatient, { userId: null, userAgent: 'vitest' })).toMatchObject({ status: 'shredded' });
    const sealedBefore = (await storedComments()).get(sealedCase);

    // A run stopped after its first batch (the progress hook fires after that commit) ...
    const stop = new Error('stopped');
    let first: SealCommentsProgress | undefined;
    const stopAfterFirst = (progress: SealCommentsProgress) => {
      first = progress;
      throw stop;
    };
    await expect(sealPlainComments(db, { batchSize: 2, onProgress: stopAfterFirst })).rejects.toBe(stop);
    const total = grantComments.size + caseComments.size;
    expect(await countPlainComments(db)).toBe(total - 2);
    // ... and run again finishes the rest.
    const rest = await sealPlainComments(db, { batchSize: 2 });
    expect(await countPlainComments(db)).toBe(0);
    expect({
      reviewComments: first!.reviewComments + rest.reviewComments,
      resolutionComments: first!.resolutionComments + rest.resolutionComments,
      erased: first!.erased + rest.erased,
    }).toEqual({ reviewComments: grantComments.size - 1, resolutionComments: caseComments.size, erased: 1 });

    const stored = await storedComments();
    expect(stored.get(shreddedGrant)).toBeNull();
    expect(stored.get(sealedCase)).toBe(sealedBefore);
    for (const id of [...grantComments.keys(), ...caseComments.keys()]) expect(stored.get(id) ?? '').not.toContain(PLAIN_COMMENT_MARKER);
    expect((await dumpEverything(db)).text).not.toMatch(/Larkspurwood/i);

    for (const [id, text] of grantComments) {
      const review = await getGrantReview(privacy, id);
      if (!review.ok) throw new Error(review.error);
      expect(review.value.reviewComment).toEqual(id === shreddedGrant ? { status: 'erased' } : { status: 'shown', text });
    }
    const pending = await getGrantReview(privacy, pendingGrant);
    expect(pending.ok && pending.value.reviewComment).toBeNull();
    for (const [id, text] of caseComments) {
      const shown = await getIncidentCase(privacy, id);
      expect(shown.ok && shown.value.incident.resolutionComment).toEqual({ status: 'shown', text });
    }
    const referred = await getIncidentCase(privacy, sealedCase);
    expect(referred.ok && referred.value.incident.resolutionComment).toEqual({ status: 'shown', text: 'Referred to HR after the interview.' });
  });

  it('does nothing when run again', async () => {
    const before = await storedComments();
    expect(await sealPlainComments(db)).toEqual({ reviewComments: 0, resolutionComments: 0, erased: 0 });
    expect(await storedComments()).toEqual(before);
  });
});
