import 'server-only';
import { randomUUID } from 'node:crypto';
import { and, asc, desc, eq, gte, lte, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable } from '@/db/client';
import { recordingChunks, recordings, recordingViews, users } from '@/db/schema';
import { auditPermission } from '@/lib/domain/access/permission-names';
import { hasAuditPermission } from '@/lib/domain/access/policy';
import type { Viewer } from '@/lib/domain/access/viewer';
import { auditActions } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { chunkLocation } from '@/lib/domain/visits/recording-rules';
import { operation, type Verdict } from '@/lib/pipeline/operation';
import { DecryptionError, getPatientCipher, type PatientCipher } from '@/lib/platform/crypto';
import { offersBreakGlass, playbackPermission, visitDecision, visitMessages } from './access';
import { hasPermission } from '@/lib/domain/access/permissions';

/**
 * Playing a recording back. Only those who may read the patient's notes now (care team or this
 * session's break-glass grant; never billing) may, and each playback is a PHI access: audited,
 * counted by monitoring, listed in the accounting of disclosures and in the recording's
 * "Viewed by". Media is opened on the server a chunk at a time and streamed with range requests
 * so the browser can seek; the browser never holds a key or a ciphertext.
 *
 * Before a playback opens, every chunk is opened where it should be: a chunk missing, moved,
 * altered or copied from another recording fails its associated data or its tag, and the
 * recording does not play at all rather than play a doctored version.
 */
export const playbackMessages = {
  tampered: 'This recording cannot be played: part of it is missing, out of order or has been altered. The attempt has been recorded.',
  unfinished: 'This recording cannot be played: it was never finished, so it may be incomplete.',
  erased: 'This recording has been erased.',
  viewersDenied: 'Only privacy officers and the clinician who recorded it can see who viewed this recording.',
} as const;

/** How long a playback, once opened, may keep fetching ranges. */
const PLAYBACK_WINDOW_MS = 4 * 3_600_000;

interface ChunkRow {
  idx: number;
  bytes: number;
  sealedChunk: string;
}

/** Opens one chunk where it must sit; null when it does not open there or its length was changed. */
function openChunk(cipher: PatientCipher, recordingId: string, total: number, row: ChunkRow): Buffer | null {
  try {
    const plain = cipher.openBinary('recording_chunks', 'sealed_chunk', chunkLocation(recordingId, row.idx, row.idx === total - 1 ? total : null), row.sealedChunk);
    return plain.byteLength === row.bytes ? plain : null;
  } catch (error) {
    if (error instanceof DecryptionError) return null;
    throw error;
  }
}

/** Every chunk 0…total-1 present, each opening at its own place, the last one carrying the total. */
export function verifyChunks(cipher: PatientCipher, recordingId: string, total: number, rows: readonly ChunkRow[]): boolean {
  if (total < 1 || rows.length !== total) return false;
  return rows.every((row, position) => row.idx === position && openChunk(cipher, recordingId, total, row) !== null);
}

const recordingTarget = (raw: unknown) => (raw as { recordingId?: unknown } | null)?.recordingId;

type RecordingRow = typeof recordings.$inferSelect;

async function loadRecording(q: Queryable, recordingId: string): Promise<RecordingRow | null> {
  const [recording] = await q.select().from(recordings).where(eq(recordings.id, recordingId)).limit(1);
  return recording ?? null;
}

export interface Playback {
  viewId: string;
  recordingId: string;
  patientId: string;
  mimeType: string;
  startedAt: string;
  bytes: number;
  recordedByViewer: boolean;
}

/** Opens a playback: checks the whole recording, records the access and a "Viewed by" row. */
export const openPlayback = operation({
  name: 'visits.playback',
  action: auditActions.visit.recordingPlay,
  resourceType: 'recording',
  permission: playbackPermission,
  deniedMessage: visitMessages.playbackDenied,
  target: recordingTarget,
  // A refusal of the role names the patient too, so billing's attempt is in their accounting.
  targetPatient: async (q, recordingId) => (await loadRecording(q, recordingId))?.patientId ?? null,
  input: z.object({ recordingId: z.uuid() }),
  invalid: () => fail('invalid', visitMessages.playbackDenied),
  authorize: async ({ tx, viewer, input, at }): Promise<Verdict<{ recording: RecordingRow; patientId: string; breakGlassGrantId: string | null }, 'break_glass_offered'>> => {
    const recording = await loadRecording(tx, input.recordingId);
    if (!recording) return { allowed: false, reason: 'not_found', resourceId: input.recordingId };
    const decision = await visitDecision(tx, viewer, recording.patientId, 'play', at);
    if (!decision.allowed) {
      return {
        allowed: false,
        reason: decision.reason,
        resourceId: recording.id,
        patientId: recording.patientId,
        answer: offersBreakGlass(viewer, decision) ? fail('break_glass_offered', visitMessages.playbackDenied) : undefined,
      };
    }
    return { allowed: true, facts: { recording, patientId: recording.patientId, breakGlassGrantId: decision.breakGlassGrantId } };
  },
  auditedFailures: ['tampered', 'unfinished', 'erased'],
  run: async ({ tx, viewer, facts, at, audit }): Promise<Result<Playback, 'tampered' | 'unfinished' | 'erased' | 'break_glass_offered'>> => {
    const { recording } = facts;
    const { cipher } = await getPatientCipher(tx, facts.patientId);
    if (!cipher) return fail('erased', playbackMessages.erased);
    if (!recording.finishedAt) return fail('unfinished', playbackMessages.unfinished);
    const rows = await tx.select().from(recordingChunks).where(eq(recordingChunks.recordingId, recording.id)).orderBy(asc(recordingChunks.idx));
    if (!verifyChunks(cipher, recording.id, recording.chunkCount, rows)) return fail('tampered', playbackMessages.tampered);
    const viewId = randomUUID();
    await tx.insert(recordingViews).values({ id: viewId, recordingId: recording.id, userId: viewer.userId, sessionId: viewer.sessionId, roles: viewer.roles.join(','), openedAt: at });
    await audit({ resourceId: recording.id, patientId: facts.patientId, breakGlassGrantId: facts.breakGlassGrantId, details: { view: viewId, chunks: recording.chunkCount } });
    return ok({
      viewId,
      recordingId: recording.id,
      patientId: facts.patientId,
      mimeType: recording.mimeType,
      startedAt: recording.startedAt.toISOString(),
      bytes: rows.reduce((sum, row) => sum + row.bytes, 0),
      recordedByViewer: recording.clinicianId === viewer.userId,
    });
  },
});

interface ViewFacts {
  recordingId: string;
  patientId: string;
  mimeType: string;
}

/** The viewer's own playback, from this session, recently opened, while they may still watch. */
async function ownPlayback(q: Queryable, viewer: Viewer, viewId: string, at: Date): Promise<Verdict<ViewFacts>> {
  const [row] = await q
    .select({ view: recordingViews, patientId: recordings.patientId, mimeType: recordings.mimeType })
    .from(recordingViews)
    .innerJoin(recordings, eq(recordings.id, recordingViews.recordingId))
    .where(eq(recordingViews.id, viewId))
    .limit(1);
  if (!row || row.view.userId !== viewer.userId || row.view.sessionId !== viewer.sessionId) return { allowed: false, reason: 'not_own_playback', resourceId: viewId };
  if (row.view.openedAt.getTime() + PLAYBACK_WINDOW_MS <= at.getTime()) return { allowed: false, reason: 'playback_expired', resourceId: viewId, patientId: row.patientId };
  if (!(await visitDecision(q, viewer, row.patientId, 'play', at)).allowed) return { allowed: false, reason: 'no_relationship', resourceId: viewId, patientId: row.patientId };
  return { allowed: true, facts: { recordingId: row.view.recordingId, patientId: row.patientId, mimeType: row.mimeType } };
}

export interface MediaRange {
  status: 200 | 206 | 416;
  headers: Record<string, string>;
  body: Uint8Array | null;
}

/** One byte range ("bytes=a-b", "bytes=a-", "bytes=-n"), or the whole; null when unsatisfiable. */
export function parseRange(header: string | null, size: number): { start: number; end: number; partial: boolean } | null {
  if (!header) return size > 0 ? { start: 0, end: size - 1, partial: false } : null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (!match[1] && !match[2])) return null;
  let start: number;
  let end: number;
  if (!match[1]) {
    start = Math.max(0, size - Number(match[2]));
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] ? Math.min(Number(match[2]), size - 1) : size - 1;
  }
  return start <= end && start < size ? { start, end, partial: true } : null;
}

/** At most this much per response, so a seek costs a few chunks and not the whole recording. */
const MAX_RANGE_BYTES = 8 * 1024 * 1024;

/**
 * The bytes of a playback the browser asks for. Part of the playback its opening recorded, so
 * only refusals leave entries; each chunk opened here is authenticated again by its tag.
 */
export const playbackMedia = operation({
  name: 'visits.playback-media',
  action: auditActions.visit.recordingPlay,
  resourceType: 'recording',
  permission: playbackPermission,
  deniedMessage: visitMessages.playbackDenied,
  target: (raw) => (raw as { viewId?: unknown } | null)?.viewId,
  input: z.object({ viewId: z.uuid(), range: z.string().max(200).nullable() }),
  audits: 'refusals',
  authorize: ({ tx, viewer, input, at }) => ownPlayback(tx, viewer, input.viewId, at),
  auditedFailures: ['tampered', 'erased'],
  run: async ({ tx, input, facts }): Promise<Result<MediaRange, 'tampered' | 'erased'>> => {
    const { cipher } = await getPatientCipher(tx, facts.patientId);
    if (!cipher) return fail('erased', playbackMessages.erased);
    const sizes = await tx.select({ idx: recordingChunks.idx, bytes: recordingChunks.bytes }).from(recordingChunks).where(eq(recordingChunks.recordingId, facts.recordingId)).orderBy(asc(recordingChunks.idx));
    const size = sizes.reduce((sum, row) => sum + row.bytes, 0);
    const range = parseRange(input.range, size);
    if (!range) return ok({ status: 416, headers: { 'Content-Range': `bytes */${size}` }, body: null });
    const end = Math.min(range.end, range.start + MAX_RANGE_BYTES - 1);
    // Which chunks hold [start, end]: their offsets from the plaintext lengths.
    let offset = 0;
    let first = -1;
    let last = -1;
    let firstOffset = 0;
    for (const row of sizes) {
      if (first < 0 && offset + row.bytes > range.start) {
        first = row.idx;
        firstOffset = offset;
      }
      if (offset <= end) last = row.idx;
      offset += row.bytes;
    }
    const rows = await tx
      .select()
      .from(recordingChunks)
      .where(and(eq(recordingChunks.recordingId, facts.recordingId), gte(recordingChunks.idx, first), lte(recordingChunks.idx, last)))
      .orderBy(asc(recordingChunks.idx));
    const parts: Buffer[] = [];
    for (const row of rows) {
      const plain = openChunk(cipher, facts.recordingId, sizes.length, row);
      if (!plain) return fail('tampered', playbackMessages.tampered);
      parts.push(plain);
    }
    const joined = Buffer.concat(parts);
    const body = joined.subarray(range.start - firstOffset, end - firstOffset + 1);
    const headers: Record<string, string> = { 'Content-Type': facts.mimeType.split(';')[0] ?? 'video/webm', 'Accept-Ranges': 'bytes', 'Content-Length': String(body.byteLength) };
    if (range.partial || end !== range.end) headers['Content-Range'] = `bytes ${range.start}-${end}/${size}`;
    return ok({ status: range.partial || end !== range.end ? 206 : 200, headers, body });
  },
});

/** The player's report of how far it has played, for "how long" in Viewed by. */
export const reportWatched = operation({
  name: 'visits.playback-watched',
  action: auditActions.visit.recordingPlay,
  resourceType: 'recording',
  permission: playbackPermission,
  deniedMessage: visitMessages.playbackDenied,
  target: (raw) => (raw as { viewId?: unknown } | null)?.viewId,
  input: z.object({ viewId: z.uuid(), seconds: z.coerce.number().min(0).max(86_400) }),
  audits: 'refusals',
  authorize: ({ tx, viewer, input, at }) => ownPlayback(tx, viewer, input.viewId, at),
  run: async ({ tx, input }): Promise<Result<null>> => {
    await tx.update(recordingViews).set({ watchedMs: sql`greatest(${recordingViews.watchedMs}, ${Math.round(input.seconds * 1000)})` }).where(eq(recordingViews.id, input.viewId));
    return ok(null);
  },
});

/**
 * A privacy officer opening "Viewed by" is not asking to watch: their role could never play it,
 * so no playback is attempted (and no refusal recorded) for them.
 */
export function asksToWatch(viewer: Viewer): boolean {
  return hasPermission(viewer.permissions, playbackPermission.category, playbackPermission.name);
}

export interface RecordingViewer {
  who: string;
  role: string;
  openedAt: string;
  watchedSeconds: number;
}

/**
 * "Viewed by": every playback of one recording, for privacy officers and for the clinician who
 * recorded it. Names and times only, no media; opening the list is audited.
 */
export const recordingViewers = operation({
  name: 'visits.recording-viewers',
  action: auditActions.visit.recordingViewers,
  resourceType: 'recording',
  deniedMessage: playbackMessages.viewersDenied,
  target: recordingTarget,
  input: z.object({ recordingId: z.uuid() }),
  invalid: () => fail('invalid', playbackMessages.viewersDenied),
  authorize: async ({ tx, viewer, input }): Promise<Verdict<{ patientId: string }>> => {
    const recording = await loadRecording(tx, input.recordingId);
    if (!recording) return { allowed: false, reason: 'not_found', resourceId: input.recordingId, answer: fail('denied', playbackMessages.viewersDenied) };
    const allowed = recording.clinicianId === viewer.userId || hasAuditPermission(viewer, auditPermission.disclosures);
    return allowed
      ? { allowed: true, facts: { patientId: recording.patientId } }
      : { allowed: false, reason: 'not_recorder_or_privacy_officer', resourceId: recording.id, patientId: recording.patientId, answer: fail('denied', playbackMessages.viewersDenied) };
  },
  run: async ({ tx, input, facts, audit }): Promise<Result<RecordingViewer[]>> => {
    const rows = await tx
      .select({ view: recordingViews, who: users.displayName })
      .from(recordingViews)
      .innerJoin(users, eq(users.id, recordingViews.userId))
      .where(eq(recordingViews.recordingId, input.recordingId))
      .orderBy(desc(recordingViews.openedAt));
    await audit({ resourceId: input.recordingId, patientId: facts.patientId, details: { views: rows.length } });
    return ok(rows.map(({ view, who }) => ({ who, role: view.roles, openedAt: view.openedAt.toISOString(), watchedSeconds: Math.round(view.watchedMs / 1000) })));
  },
});
