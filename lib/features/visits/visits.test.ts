/**
 * Video visits end to end below the browser: a visit started from the chart, the patient's
 * one-time link, consent, chunks sealed with the patient's key (and each bad chunk refused with
 * nothing stored), playback for those who may read notes, "Viewed by", the accounting of
 * disclosures, tampering, and crypto-shredding.
 */
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { recordingChunks, recordings, recordingViews } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { JOIN_LINK_LIFETIME_MS } from '@/lib/domain/visits/join-link';
import { MAX_CHUNK_BYTES } from '@/lib/domain/visits/recording-rules';
import { accountingOfDisclosures } from '@/lib/features/audit-review/disclosures';
import { shredPatient } from '@/lib/ops/keys/shred';
import { advanceClock, resetClock } from '@/lib/platform/clock';
import {
  addRecordingChunk,
  answerConsent,
  endVisit,
  issueJoinLink,
  joinWithLink,
  listVisits,
  openPlayback,
  patientGuest,
  playbackMedia,
  recordingViewers,
  revokeJoinLinks,
  startRecording,
  startVisit,
} from '@/lib/features/visits';
import { auditHead, auditOfActionSince, dumpEverything, patientOnTeamOf, TEST_CLIENT, testDatabase, viewer as signIn } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';

let handle: TestDatabase;
let physician: Viewer;
let patientId: string;

const WEBM_HEADER = Buffer.from([0x1a, 0x45, 0xdf, 0xa3]);
const MARKER = 'SYNTHETIC-VISIT-MEDIA';
/** A chunk that looks like a recorder's: the first carries the EBML header, each its own marker. */
const chunk = (index: number) => Buffer.concat([index === 0 ? WEBM_HEADER : Buffer.alloc(0), Buffer.from(`${MARKER}-${index}-`.repeat(40))]);
const reader = (bytes: Buffer) => async (max: number) => (bytes.byteLength > max ? null : new Uint8Array(bytes));
const MP = 'video/webm;codecs=vp8,opus';

function value<T>(result: { ok: true; value: T } | { ok: false; message: string }): T {
  if (!result.ok) throw new Error(result.message);
  return result.value;
}

/** A visit with the patient joined through their link and having answered the recording question. */
async function joinedVisit(consent: boolean | null) {
  const { visitId } = value(await startVisit(physician, { patientId }));
  const { path } = value(await issueJoinLink(physician, { visitId }));
  const token = path.split('#')[1]!;
  const joined = value(await joinWithLink(token, TEST_CLIENT));
  const guest = (await patientGuest(joined.credential))!;
  if (consent !== null) value(await answerConsent(guest, consent, TEST_CLIENT));
  return { visitId, token, guest };
}

/** A finished recording of `count` chunks. */
async function recorded(count: number) {
  const { visitId } = await joinedVisit(true);
  const { recordingId } = value(await startRecording(physician, { visitId, mimeType: MP }));
  for (let index = 0; index < count; index++) {
    value(await addRecordingChunk(physician, { recordingId, index, last: index === count - 1, readBody: reader(chunk(index)) }));
  }
  return { visitId, recordingId };
}

const chunksOf = (recordingId: string) => handle.db.select().from(recordingChunks).where(eq(recordingChunks.recordingId, recordingId)).orderBy(recordingChunks.idx);

beforeAll(async () => {
  handle = await testDatabase({ patients: 6 });
  physician = await signIn(handle.db, 'physician@vigil.test');
  patientId = await patientOnTeamOf(handle.db, physician.userId);
});
afterAll(async () => handle?.close());
afterEach(() => resetClock());

describe('a video visit', () => {
  it('is started only by a clinician who may write the notes of this patient', async () => {
    const since = await auditHead(handle.db);
    expect(await startVisit(physician, { patientId })).toMatchObject({ ok: true });
    expect(await startVisit(await signIn(handle.db, 'billing@vigil.test'), { patientId })).toMatchObject({ ok: false, error: 'denied' });
    expect(await startVisit(await signIn(handle.db, 'physician2@vigil.test'), { patientId })).toMatchObject({ ok: false, error: 'denied' });
    const entries = await auditOfActionSince(handle.db, since, 'visit.start');
    expect(entries.map((e) => e.outcome).sort()).toEqual(['allowed', 'denied', 'denied']);
    expect(entries.every((e) => e.patientId === patientId)).toBe(true);
  });

  it('is joined once through its link; a reused, expired, withdrawn or unknown link is refused and recorded', async () => {
    const since = await auditHead(handle.db);
    const { visitId } = value(await startVisit(physician, { patientId }));
    const first = value(await issueJoinLink(physician, { visitId }));
    expect(first.path).toMatch(/^\/visit\/join#[A-Za-z0-9_-]{43}$/);
    const token = first.path.split('#')[1]!;
    expect(JSON.stringify(await dumpEverything(handle.db))).not.toContain(token);
    expect(await joinWithLink(token, TEST_CLIENT)).toMatchObject({ ok: true });
    expect(await joinWithLink(token, TEST_CLIENT)).toMatchObject({ ok: false, error: 'denied' });

    const other = value(await startVisit(physician, { patientId }));
    const expiring = value(await issueJoinLink(physician, { visitId: other.visitId })).path.split('#')[1]!;
    advanceClock(JOIN_LINK_LIFETIME_MS + 1_000);
    expect(await joinWithLink(expiring, TEST_CLIENT)).toMatchObject({ ok: false, error: 'denied' });
    resetClock();
    const withdrawn = value(await issueJoinLink(physician, { visitId: other.visitId })).path.split('#')[1]!;
    value(await revokeJoinLinks(physician, { visitId: other.visitId }));
    expect(await joinWithLink(withdrawn, TEST_CLIENT)).toMatchObject({ ok: false, error: 'denied' });
    expect(await joinWithLink('A'.repeat(43), TEST_CLIENT)).toMatchObject({ ok: false, error: 'denied' });

    const joins = await auditOfActionSince(handle.db, since, 'visit.join');
    expect(joins.map((e) => [e.outcome, (e.details as { reason?: string }).reason ?? null]).reverse()).toEqual([
      ['allowed', null], ['denied', 'used'], ['denied', 'expired'], ['denied', 'revoked'], ['denied', 'unknown'],
    ]);
  });

  it('ends: the patient’s secret stops working and an unused link dies with it', async () => {
    const { visitId, guest } = await joinedVisit(null);
    expect(await patientGuest(`${guest.visitId}.wrong`)).toBeNull();
    value(await endVisit(physician, { visitId }));
    const since = await auditHead(handle.db);
    expect(await issueJoinLink(physician, { visitId })).toMatchObject({ ok: false });
    expect((await auditOfActionSince(handle.db, since, 'visit.link'))[0]).toMatchObject({ outcome: 'denied', details: { reason: 'visit_ended' } });
  });
});

describe('recording', () => {
  it('cannot start without the patient’s consent, and the refusal is recorded', async () => {
    for (const consent of [null, false] as const) {
      const { visitId } = await joinedVisit(consent);
      const since = await auditHead(handle.db);
      expect(await startRecording(physician, { visitId, mimeType: MP })).toMatchObject({ ok: false, error: 'denied', message: expect.stringContaining('not agreed') });
      const [refusal] = await auditOfActionSince(handle.db, since, 'visit.recording_start');
      expect(refusal).toMatchObject({ outcome: 'denied', details: { reason: consent === null ? 'consent_not_given' : 'consent_refused' } });
      expect(await handle.db.select().from(recordings).where(eq(recordings.visitId, visitId))).toHaveLength(0);
    }
    const since = await auditHead(handle.db);
    await joinedVisit(false);
    expect((await auditOfActionSince(handle.db, since, 'visit.consent'))[0]).toMatchObject({ outcome: 'allowed', details: { consent: 'refused' } });
  });

  it('is sealed with the patient’s key: no WebM header and no media in clear anywhere in the database', async () => {
    const { recordingId } = await recorded(3);
    const rows = await chunksOf(recordingId);
    expect(rows.map((r) => r.idx)).toEqual([0, 1, 2]);
    const dump = (await dumpEverything(handle.db)).text;
    expect(dump).not.toContain(MARKER);
    expect(dump).not.toContain(Buffer.from(MARKER).toString('base64').slice(0, 16));
    expect(dump).not.toContain(WEBM_HEADER.toString('latin1'));
    expect(dump.toLowerCase()).not.toContain('1a45dfa3');
    expect(dump).not.toContain(chunk(0).toString('base64').slice(0, 12));
    expect(dump).not.toContain(chunk(0).toString('base64url').slice(0, 12));
    const [finished] = await handle.db.select().from(recordings).where(eq(recordings.id, recordingId));
    expect(finished).toMatchObject({ chunkCount: 3, finishedAt: expect.any(Date) });
  });

  it('refuses oversized, out-of-order, duplicate, late and foreign chunks, each recorded, nothing stored', async () => {
    const { visitId } = await joinedVisit(true);
    const { recordingId } = value(await startRecording(physician, { visitId, mimeType: MP }));
    value(await addRecordingChunk(physician, { recordingId, index: 0, last: false, readBody: reader(chunk(0)) }));
    const since = await auditHead(handle.db);
    const stored = async () => (await chunksOf(recordingId)).length;
    const attempt = (who: Viewer, index: number, bytes: Buffer, last = false) => addRecordingChunk(who, { recordingId, index, last, readBody: reader(bytes) });

    expect(await attempt(physician, 1, Buffer.alloc(MAX_CHUNK_BYTES + 1, 7))).toMatchObject({ ok: false, message: expect.stringContaining('larger than') });
    expect(await attempt(physician, 5, chunk(5))).toMatchObject({ ok: false, message: expect.stringContaining('out of order') });
    expect(await attempt(physician, 0, chunk(0))).toMatchObject({ ok: false, message: expect.stringContaining('already stored') });
    expect(await attempt(await signIn(handle.db, 'physician2@vigil.test'), 1, chunk(1))).toMatchObject({ ok: false });
    expect(await stored()).toBe(1);
    value(await endVisit(physician, { visitId }));
    expect(await attempt(physician, 1, chunk(1), true)).toMatchObject({ ok: false, message: expect.stringContaining('visit has ended') });
    expect(await stored()).toBe(1);

    const reasons = (await auditOfActionSince(handle.db, since, 'visit.recording_chunk')).filter((e) => e.outcome === 'denied').map((e) => (e.details as { reason: string }).reason);
    expect(reasons.sort()).toEqual(['duplicate', 'not_recorder', 'out_of_order', 'too_large', 'visit_ended'].sort());
  });

  it('stops taking chunks when the patient withdraws consent', async () => {
    const { visitId, guest } = await joinedVisit(true);
    const { recordingId } = value(await startRecording(physician, { visitId, mimeType: MP }));
    value(await answerConsent({ ...guest, consent: 'given' }, false, TEST_CLIENT));
    expect(await addRecordingChunk(physician, { recordingId, index: 0, last: false, readBody: reader(chunk(0)) })).toMatchObject({ ok: false });
    expect(await chunksOf(recordingId)).toHaveLength(0);
  });
});

describe('playback', () => {
  it('plays for the physician, refuses billing and physician2 (offered break-glass), and lists every playback', async () => {
    const { recordingId } = await recorded(3);
    const since = await auditHead(handle.db);
    const playback = value(await openPlayback(physician, { recordingId }));
    const whole = Buffer.concat([chunk(0), chunk(1), chunk(2)]);
    expect(playback.bytes).toBe(whole.byteLength);
    const all = value(await playbackMedia(physician, { viewId: playback.viewId, range: null }));
    expect(all.status).toBe(200);
    expect(Buffer.from(all.body!).equals(whole)).toBe(true);
    const part = value(await playbackMedia(physician, { viewId: playback.viewId, range: `bytes=${chunk(0).byteLength - 3}-${chunk(0).byteLength + 9}` }));
    expect(part).toMatchObject({ status: 206, headers: { 'Content-Range': `bytes ${chunk(0).byteLength - 3}-${chunk(0).byteLength + 9}/${whole.byteLength}` } });
    expect(Buffer.from(part.body!).equals(whole.subarray(chunk(0).byteLength - 3, chunk(0).byteLength + 10))).toBe(true);
    expect(value(await playbackMedia(physician, { viewId: playback.viewId, range: 'bytes=999999999-' })).status).toBe(416);

    const billing = await signIn(handle.db, 'billing@vigil.test');
    expect(await openPlayback(billing, { recordingId })).toMatchObject({ ok: false, error: 'denied' });
    const physician2 = await signIn(handle.db, 'physician2@vigil.test');
    expect(await openPlayback(physician2, { recordingId })).toMatchObject({ ok: false, error: 'break_glass_offered' });
    // Someone else's playback does not stream for them.
    expect(await playbackMedia(physician2, { viewId: playback.viewId, range: null })).toMatchObject({ ok: false });
    expect(await playbackMedia(await signIn(handle.db, 'physician@vigil.test'), { viewId: playback.viewId, range: null })).toMatchObject({ ok: false });

    const plays = await auditOfActionSince(handle.db, since, 'visit.recording_play');
    expect(plays.filter((e) => e.outcome === 'allowed')).toHaveLength(1);
    expect(plays.filter((e) => e.outcome === 'denied').length).toBeGreaterThanOrEqual(2);

    const privacy = await signIn(handle.db, 'privacy@vigil.test');
    const viewers = value(await recordingViewers(privacy, { recordingId }));
    expect(viewers).toEqual([expect.objectContaining({ who: expect.any(String), role: 'physician' })]);
    expect(value(await recordingViewers(physician, { recordingId }))).toHaveLength(1);
    expect(await recordingViewers(physician2, { recordingId })).toMatchObject({ ok: false });

    const report = value(await accountingOfDisclosures(privacy, { patientId }));
    const row = report.rows.find((r) => r.action === 'visit.recording_play' && r.outcome === 'allowed');
    expect(row).toMatchObject({ what: 'Watched a video visit recording' });
  });

  it('counts each playback as a PHI access for monitoring', async () => {
    const { recordingId } = await recorded(1);
    const counted = async () => {
      const rows = await handle.db.execute(sql`SELECT coalesce(sum(accesses), 0)::int AS n FROM access_counters WHERE user_id = ${physician.userId}`);
      return Number((rows as unknown as { rows?: Array<{ n: number }> }).rows?.[0]?.n ?? (rows as unknown as Array<{ n: number }>)[0]?.n);
    };
    const before = await counted();
    value(await openPlayback(physician, { recordingId }));
    expect(await counted()).toBe(before + 1);
  });

  describe('a tampered recording does not play and says so', () => {
    const tampered = { ok: false, error: 'tampered', message: expect.stringContaining('missing, out of order or has been altered') };
    const sealedOf = async (recordingId: string, idx: number) => (await handle.db.select().from(recordingChunks).where(and(eq(recordingChunks.recordingId, recordingId), eq(recordingChunks.idx, idx))))[0]!;
    const setSealed = (recordingId: string, idx: number, sealedChunk: string, bytes?: number) =>
      handle.db.update(recordingChunks).set({ sealedChunk, ...(bytes === undefined ? {} : { bytes }) }).where(and(eq(recordingChunks.recordingId, recordingId), eq(recordingChunks.idx, idx)));

    it('plays untouched', async () => {
      const { recordingId } = await recorded(3);
      expect(await openPlayback(physician, { recordingId })).toMatchObject({ ok: true });
    });

    it('two chunks swapped', async () => {
      const { recordingId } = await recorded(3);
      const [a, b] = [await sealedOf(recordingId, 0), await sealedOf(recordingId, 1)];
      await setSealed(recordingId, 0, b.sealedChunk, b.bytes);
      await setSealed(recordingId, 1, a.sealedChunk, a.bytes);
      expect(await openPlayback(physician, { recordingId })).toMatchObject(tampered);
    });

    it('a chunk removed (even with the count rewritten to match)', async () => {
      const { recordingId } = await recorded(3);
      await handle.db.delete(recordingChunks).where(and(eq(recordingChunks.recordingId, recordingId), eq(recordingChunks.idx, 1)));
      expect(await openPlayback(physician, { recordingId })).toMatchObject(tampered);
      const cut = await recorded(3);
      await handle.db.delete(recordingChunks).where(and(eq(recordingChunks.recordingId, cut.recordingId), eq(recordingChunks.idx, 2)));
      await handle.db.update(recordings).set({ chunkCount: 2 }).where(eq(recordings.id, cut.recordingId));
      expect(await openPlayback(physician, { recordingId: cut.recordingId })).toMatchObject(tampered);
    });

    it('a chunk altered', async () => {
      const { recordingId } = await recorded(3);
      const row = await sealedOf(recordingId, 1);
      const raw = Buffer.from(row.sealedChunk, 'base64url');
      raw[20] = raw[20]! ^ 0x01;
      await setSealed(recordingId, 1, raw.toString('base64url'));
      expect(await openPlayback(physician, { recordingId })).toMatchObject(tampered);
    });

    it('a chunk copied from another recording', async () => {
      const { recordingId } = await recorded(3);
      const donor = await recorded(3);
      const copied = await sealedOf(donor.recordingId, 1);
      await setSealed(recordingId, 1, copied.sealedChunk, copied.bytes);
      expect(await openPlayback(physician, { recordingId })).toMatchObject(tampered);
    });

    it('records the failed playback', async () => {
      const { recordingId } = await recorded(2);
      await handle.db.delete(recordingChunks).where(and(eq(recordingChunks.recordingId, recordingId), eq(recordingChunks.idx, 0)));
      const since = await auditHead(handle.db);
      await openPlayback(physician, { recordingId });
      expect((await auditOfActionSince(handle.db, since, 'visit.recording_play'))[0]).toMatchObject({ outcome: 'denied', details: { reason: 'tampered' } });
      expect(await handle.db.select().from(recordingViews).where(eq(recordingViews.recordingId, recordingId))).toHaveLength(0);
    });
  });

  it('reads as erased once the patient is crypto-shredded', async () => {
    const { recordingId } = await recorded(2);
    const playback = value(await openPlayback(physician, { recordingId }));
    const shredded = await shredPatient(handle.db, patientId, { userId: null });
    expect(shredded.status).toBe('shredded');
    expect(await openPlayback(physician, { recordingId })).toMatchObject({ ok: false, error: 'erased', message: 'This recording has been erased.' });
    expect(await playbackMedia(physician, { viewId: playback.viewId, range: null })).toMatchObject({ ok: false, error: 'erased' });
    expect(value(await listVisits(physician, { patientId })).length).toBeGreaterThan(0);
  });
});
