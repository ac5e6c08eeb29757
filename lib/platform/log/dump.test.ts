/**
 * A full dump of a seeded database (every row of every table, as JSON text, which is what
 * pg_dump or a curious DBA would see) contains none of the seeded patients' identifiers or
 * clinical text, even after the portal has been used: searches, chart views, a new note, a
 * break-glass justification and its reviewer's comment, an incident's resolution comment and a
 * TOTP secret.
 */
import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '@/db/client';
import { breakGlassGrants, patients, users } from '@/db/schema';
import { syntheticPatient } from '@/db/seed';
import { reviewGrant } from '@/lib/features/break-glass';
import { getPatientCipher, normaliseName, sealUserSecret } from '@/lib/platform/crypto';
import { withMac } from '@/lib/platform/integrity';
import { openIncident } from '@/lib/features/monitor';
import { resolveIncident } from '@/lib/features/monitor';
import { addEntry, getChart, listPatients } from '@/lib/features/records';
import { dumpEverything, openEveryPage, testDatabase, viewer } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';

const PATIENTS = 50;
const SEED = 42;
const addedNote = 'Synthetic dump check: Quillfeather reports left knee pain after a fall.';
const justification = 'Synthetic: Zanzibarov unconscious in bay 4, no care team reachable.';
const totpSecret = 'JBSWY3DPEHPK3PXPQUILL';
const reviewComment = 'Synthetic review: confirmed Marrowgate was in resus bay 4.';
const resolutionComment = 'Synthetic decision: Thistlecombe is the user’s neighbour, referred.';

let handle: TestDatabase;
let db: Db;
let dump: string;
let needles: Set<string>;

/** Whole-token, case-insensitive: base64url and hex characters around a match rule it out. */
function occurs(haystack: string, needle: string): boolean {
  const escaped = needle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![A-Za-z0-9_-])${escaped}(?![A-Za-z0-9_-])`, 'iu').test(haystack);
}

/** Every string inside a value, however deeply nested. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

beforeAll(async () => {
  handle = await testDatabase({ patients: PATIENTS, seed: SEED });
  db = handle.db;

  needles = new Set([addedNote, 'Quillfeather', justification, 'Zanzibarov', totpSecret, reviewComment, 'Marrowgate', resolutionComment, 'Thistlecombe']);
  for (let index = 0; index < PATIENTS; index++) {
    const { demographics: d, insurance } = syntheticPatient(index, SEED);
    for (const value of [
      d.mrn, d.familyName, normaliseName(d.familyName), `${d.givenName} ${d.familyName}`, `${d.familyName}, ${d.givenName}`,
      d.dateOfBirth, d.address.line1, d.phone, d.email ?? '', insurance.memberId,
    ]) {
      if (value) needles.add(value);
    }
    // Short given names (Mei, Nia) are common substrings; whole-token matching keeps them safe to test.
    needles.add(d.givenName);
  }
  // Clinical free text and codes, read back through the data keys: notes, reactions, problems, procedures.
  const ids = (await db.select({ id: patients.id }).from(patients)).map((p) => p.id);
  for (const page of await openEveryPage(db)) {
    for (const body of Object.values(page.entries)) {
      const text = strings({ text: body.text, reaction: body.reaction, description: body.description, cpt: body.cpt });
      for (const s of text) if (s.length >= 8) needles.add(s);
    }
  }

  // Use the portal the way clinicians do, so audit rows and any caches get written.
  const physician = await viewer(db, 'physician@vigil.test');
  const first = syntheticPatient(0, SEED).demographics;
  await listPatients(physician, { q: first.familyName });
  await listPatients(physician, { q: first.mrn });
  await listPatients(physician, { q: first.dateOfBirth });
  await listPatients(physician, { q: normaliseName(first.familyName).slice(0, 3) });
  for (const id of ids.slice(0, 5)) await getChart(physician, id);
  const added = await addEntry(physician, { patientId: ids[0]!, section: 'progress_notes', body: { writtenAt: new Date().toISOString(), author: 'Dr. Ada Quinlan', text: addedNote } });
  expect(added.ok).toBe(true);

  const stranger = await viewer(db, 'physician2@vigil.test');
  const grantId = randomUUID();
  const { cipher } = await getPatientCipher(db, ids[1]!);
  await db.insert(breakGlassGrants).values(
    withMac('break_glass_grants', {
      id: grantId,
      userId: stranger.userId,
      patientId: ids[1]!,
      sessionId: null,
      reasonCode: 'patient_unconscious',
      sealedJustification: cipher!.seal('break_glass_grants', 'sealed_justification', grantId, justification),
      expiresAt: new Date(Date.now() + 3_600_000),
      endedAt: null,
      reviewStatus: 'pending',
      reviewerId: null,
      reviewedAt: null,
    }),
  );
  await getChart(stranger, ids[1]!);
  const privacy = await viewer(db, 'privacy@vigil.test');
  expect((await reviewGrant(privacy, { grantId, verdict: 'referred', comment: reviewComment })).ok).toBe(true);
  const incident = await db.transaction((tx) =>
    openIncident(tx, { userId: stranger.userId, severity: 'LOW', rule: 'same_last_name', windowStart: new Date(Date.UTC(2026, 10, 1)), details: {} }),
  );
  expect((await resolveIncident(privacy, { incidentId: incident!.incidentId, decision: 'confirmed', comment: resolutionComment })).ok).toBe(true);
  await db.update(users).set({ sealedTotpSecret: sealUserSecret(stranger.userId, 'totp', totpSecret) }).where(eq(users.id, stranger.userId));

  dump = (await dumpEverything(db)).text;
}, 180_000);
afterAll(async () => handle?.close());

describe('a full dump of a seeded, used database', () => {
  it('covers every table, and the matcher finds what is there', async () => {
    const { tables } = await dumpEverything(db);
    for (const table of ['public.patients', 'public.progress_notes', 'public.audit_log', 'public.break_glass_grants', 'public.patient_keys']) {
      expect(tables).toContain(table);
    }
    // Positive controls: plain, non-PHI values are found, so an absence below means something.
    expect(occurs(dump, 'physician@vigil.test')).toBe(true);
    expect(occurs(dump, 'patient_unconscious')).toBe(true);
    expect(occurs(`{"familyName":"Dvořák"}`, 'dvořák')).toBe(true);
    expect(needles.size).toBeGreaterThan(PATIENTS * 8);
  });

  it('contains no seeded name, MRN, date of birth, address, phone, email, member id or clinical text', () => {
    const found = [...needles].filter((needle) => occurs(dump, needle));
    expect(found).toEqual([]);
  });
});
