/**
 * Drafts that survive the timeout: kept byte for byte across sign-ins, for their author only,
 * sealed at rest, only where the author may write, gone once the entry is added, after 12 hours,
 * or when the patient is crypto-shredded.
 */
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { drafts } from '@/db/schema';
import { shredPatient } from '@/lib/ops/keys/shred';
import { advanceClock, resetClock } from '@/lib/platform/clock';
import { addEntry } from '@/lib/features/records';
import { DRAFT_LIFETIME_MS, openDrafts, saveDraft } from '@/lib/features/drafts';
import { auditHead, auditOfActionSince, patientOnTeamOf, testDatabase, viewer as signIn } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';

let handle: TestDatabase;
let patientId: string;
/** Unicode, markup, a tab and trailing spaces: what comes back must be exactly this. */
const NOTE = 'Pt c/o chest pain <b>radiating</b> → L arm.\n\tPlan: ECG, troponin × 2; café-au-lait spots noted.  ';

beforeAll(async () => {
  handle = await testDatabase({ patients: 6 });
  const physician = await signIn(handle.db, 'physician@vigil.test');
  patientId = await patientOnTeamOf(handle.db, physician.userId);
});
afterAll(async () => handle?.close());
afterEach(() => resetClock());

const draftsOf = async (email: string) => {
  const result = await openDrafts(await signIn(handle.db, email), patientId);
  if (!result.ok) throw new Error(result.message);
  return result.value;
};

describe('drafts', () => {
  it('are offered back to their author after a new sign-in, byte for byte, and to nobody else', async () => {
    const since = await auditHead(handle.db);
    const before = await signIn(handle.db, 'physician@vigil.test');
    expect(await saveDraft(before, { patientId, form: 'progress_notes', text: NOTE })).toMatchObject({ ok: true });
    // A fresh viewer is a fresh session: the draft belongs to the user, not the sign-in.
    const [offered] = await draftsOf('physician@vigil.test');
    expect(offered).toMatchObject({ form: 'progress_notes', text: NOTE });
    expect(Buffer.from(offered!.text).equals(Buffer.from(NOTE))).toBe(true);
    expect(await draftsOf('staff01@vigil.test')).toEqual([]);
    expect(await draftsOf('nurse@vigil.test')).toEqual([]);

    const [saved] = await auditOfActionSince(handle.db, since, 'draft.save');
    expect(saved).toMatchObject({ outcome: 'allowed', patientId, details: { form: 'progress_notes', characters: NOTE.length } });
    expect(JSON.stringify(saved)).not.toContain('chest pain');
    expect(await auditOfActionSince(handle.db, since, 'draft.offer')).toHaveLength(1);
    expect(await auditOfActionSince(handle.db, since, 'progress_notes.create')).toHaveLength(0);
  });

  it('are ciphertext at rest', async () => {
    const rows = await handle.db.select().from(drafts).where(eq(drafts.patientId, patientId));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.sealedText).not.toContain('chest pain');
    expect(Buffer.from(rows[0]!.sealedText, 'utf8').toString()).not.toContain('troponin');
  });

  it('are refused where the author may not write that form, and audited', async () => {
    const nurse = await signIn(handle.db, 'nurse@vigil.test');
    const since = await auditHead(handle.db);
    expect(await saveDraft(nurse, { patientId, form: 'progress_notes', text: 'not mine to write' })).toMatchObject({ ok: false, error: 'denied' });
    const stranger = await signIn(handle.db, 'physician2@vigil.test');
    expect(await saveDraft(stranger, { patientId, form: 'progress_notes', text: 'no relationship' })).toMatchObject({ ok: false, error: 'denied' });
    expect((await auditOfActionSince(handle.db, since, 'draft.save')).map((e) => e.outcome)).toEqual(['denied', 'denied']);
  });

  it('are discarded when the note is added', async () => {
    const physician = await signIn(handle.db, 'physician@vigil.test');
    expect((await draftsOf('physician@vigil.test')).map((d) => d.form)).toContain('progress_notes');
    const body = { writtenAt: new Date().toISOString(), author: 'Dr. Ada Quinlan', text: NOTE };
    expect(await addEntry(physician, { patientId, section: 'progress_notes', body })).toMatchObject({ ok: true });
    expect((await draftsOf('physician@vigil.test')).map((d) => d.form)).not.toContain('progress_notes');
  });

  it('expire twelve hours after the last save', async () => {
    const physician = await signIn(handle.db, 'physician@vigil.test');
    await saveDraft(physician, { patientId, form: 'progress_notes', text: NOTE });
    advanceClock(DRAFT_LIFETIME_MS - 60_000);
    expect(await draftsOf('physician@vigil.test')).toHaveLength(1);
    advanceClock(120_000);
    expect(await draftsOf('physician@vigil.test')).toEqual([]);
    expect(await handle.db.select().from(drafts).where(eq(drafts.patientId, patientId))).toHaveLength(0);
  });

  it('are gone after the patient is crypto-shredded', async () => {
    const physician = await signIn(handle.db, 'physician@vigil.test');
    await saveDraft(physician, { patientId, form: 'progress_notes', text: NOTE });
    expect(await shredPatient(handle.db, patientId, { userId: null, userAgent: 'vitest' })).toMatchObject({ status: 'shredded' });
    expect(await handle.db.select().from(drafts).where(eq(drafts.patientId, patientId))).toHaveLength(0);
    expect(await draftsOf('physician@vigil.test')).toEqual([]);
  });
});
