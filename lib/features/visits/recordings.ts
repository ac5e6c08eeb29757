import 'server-only';
import { randomUUID } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import { z } from 'zod';
import { recordingChunks, recordings } from '@/db/schema';
import { auditActions } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { chunkBodyRefusal, chunkLocation, chunkMessages, chunkRefusal, MAX_CHUNK_BYTES, RECORDING_MIME_TYPES } from '@/lib/domain/visits/recording-rules';
import { operation, type Verdict } from '@/lib/pipeline/operation';
import { getPatientCipher } from '@/lib/platform/crypto';
import { conductPermission, loadVisit, visitDecision, visitMessages } from './access';
import { deliver } from './signalling';

/**
 * Recording a visit. The clinician's browser records (MediaRecorder) and uploads each chunk as
 * it is cut; the server seals it with the patient's data key at once and keeps only the
 * ciphertext. Recording needs the patient's "yes", given on their join screen: without it there
 * is no recording to add to, and a "no" later stops the next chunk. Every refusal is recorded
 * and stores nothing.
 */
export const NO_CONSENT_MESSAGE = 'The patient has not agreed to this visit being recorded, so it cannot be recorded.';

const recordingLock = (recordingId: string) => {
  // One upload at a time per recording: a duplicate racing its original finds it stored.
  let hash = 0x7265_6300;
  for (const char of recordingId) hash = (Math.imul(hash, 31) + char.charCodeAt(0)) | 0;
  return hash;
};

export const startRecording = operation({
  name: 'visits.recording-start',
  action: auditActions.visit.recordingStart,
  resourceType: 'visit',
  permission: conductPermission,
  deniedMessage: visitMessages.denied,
  target: (raw) => (raw as { visitId?: unknown } | null)?.visitId,
  input: z.object({ visitId: z.uuid(), mimeType: z.enum(RECORDING_MIME_TYPES) }),
  invalid: () => fail('invalid', 'This browser cannot record in a format the portal keeps (WebM).'),
  authorize: async ({ tx, viewer, input, at }): Promise<Verdict<{ patientId: string }>> => {
    const visit = await loadVisit(tx, input.visitId);
    if (!visit) return { allowed: false, reason: 'not_found', resourceId: input.visitId, answer: fail('denied', visitMessages.notFound) };
    const refuse = (reason: string, message: string): Verdict<{ patientId: string }> => ({ allowed: false, reason, resourceId: visit.id, patientId: visit.patientId, answer: fail('denied', message) });
    if (visit.clinicianId !== viewer.userId || !(await visitDecision(tx, viewer, visit.patientId, 'conduct', at)).allowed) return refuse('not_visit_clinician', visitMessages.notFound);
    if (visit.endedAt) return refuse('visit_ended', visitMessages.ended);
    if (visit.consent !== 'given') return refuse(visit.consent === 'refused' ? 'consent_refused' : 'consent_not_given', NO_CONSENT_MESSAGE);
    const [open] = await tx.select({ id: recordings.id }).from(recordings).where(and(eq(recordings.visitId, visit.id), isNull(recordings.finishedAt))).limit(1);
    if (open) return refuse('already_recording', 'This visit is already being recorded.');
    return { allowed: true, facts: { patientId: visit.patientId } };
  },
  run: async ({ tx, viewer, input, facts, at, audit }): Promise<Result<{ recordingId: string; visitId: string; maxChunkBytes: number }>> => {
    const id = randomUUID();
    await tx.insert(recordings).values({ id, visitId: input.visitId, patientId: facts.patientId, clinicianId: viewer.userId, mimeType: input.mimeType, startedAt: at });
    await audit({ resourceId: id, patientId: facts.patientId, details: { visit: input.visitId } });
    return ok({ recordingId: id, visitId: input.visitId, maxChunkBytes: MAX_CHUNK_BYTES });
  },
  afterCommit: ({ visitId }) => announceRecording(visitId, 'started'),
});

const chunkInput = z.object({
  recordingId: z.uuid(),
  index: z.coerce.number().int().min(0).max(1_000_000),
  last: z.boolean(),
  /** Read only after every check on who and where has passed, and never past the cap. */
  readBody: z.custom<(maxBytes: number) => Promise<Uint8Array | null>>((value) => typeof value === 'function'),
});

interface ChunkFacts {
  patientId: string;
  visitId: string;
}

/**
 * One chunk: the recording clinician's, the next in order, not after the visit or the recording
 * ended, while consent stands, within the size cap. The chunk marked last finishes the recording
 * and binds its total into the associated data.
 */
export const addRecordingChunk = operation({
  name: 'visits.recording-chunk',
  action: auditActions.visit.recordingChunk,
  resourceType: 'recording',
  permission: conductPermission,
  deniedMessage: visitMessages.denied,
  target: (raw) => (raw as { recordingId?: unknown } | null)?.recordingId,
  input: chunkInput,
  invalid: () => fail('invalid', 'That is not a part of a recording.'),
  auditInvalid: true,
  lock: (input) => recordingLock(input.recordingId),
  authorize: async ({ tx, viewer, input, at }): Promise<Verdict<ChunkFacts>> => {
    const [recording] = await tx.select().from(recordings).where(eq(recordings.id, input.recordingId)).limit(1);
    if (!recording) return { allowed: false, reason: 'not_found', resourceId: input.recordingId, answer: fail('denied', visitMessages.notFound) };
    const visit = await loadVisit(tx, recording.visitId);
    const refuse = (reason: string, message: string): Verdict<ChunkFacts> => ({ allowed: false, reason, resourceId: recording.id, patientId: recording.patientId, details: { index: input.index }, answer: fail('denied', message) });
    if (recording.clinicianId === viewer.userId && !(await visitDecision(tx, viewer, recording.patientId, 'conduct', at)).allowed) return refuse('no_relationship', visitMessages.notFound);
    const refusal = chunkRefusal({ recorderId: recording.clinicianId, viewerId: viewer.userId, visitEnded: Boolean(visit?.endedAt), finished: Boolean(recording.finishedAt), stored: recording.chunkCount }, input.index);
    if (refusal) return refuse(refusal, chunkMessages[refusal]);
    if (visit?.consent !== 'given') return refuse('consent_withdrawn', NO_CONSENT_MESSAGE);
    return { allowed: true, facts: { patientId: recording.patientId, visitId: recording.visitId } };
  },
  run: async ({ tx, input, facts, at, audit, auditRefusal }): Promise<Result<{ stored: number; finished: boolean; visitId: string }>> => {
    const body = await input.readBody(MAX_CHUNK_BYTES);
    const refusal = chunkBodyRefusal(body?.byteLength ?? null, input.last);
    if (refusal || !body) {
      await auditRefusal(refusal ?? 'too_large', { resourceId: input.recordingId, patientId: facts.patientId, details: { index: input.index } });
      return fail('invalid', chunkMessages[refusal ?? 'too_large']);
    }
    const { cipher } = await getPatientCipher(tx, facts.patientId);
    if (!cipher) {
      await auditRefusal('erased', { resourceId: input.recordingId, patientId: facts.patientId });
      return fail('invalid', 'This recording cannot be stored because the record has been erased.');
    }
    const total = input.last ? input.index + 1 : null;
    const sealedChunk = cipher.sealBinary('recording_chunks', 'sealed_chunk', chunkLocation(input.recordingId, input.index, total), Buffer.from(body));
    await tx.insert(recordingChunks).values({ recordingId: input.recordingId, idx: input.index, bytes: body.byteLength, sealedChunk });
    await tx
      .update(recordings)
      .set({ chunkCount: input.index + 1, ...(input.last ? { finishedAt: at } : {}) })
      .where(eq(recordings.id, input.recordingId));
    await audit({ resourceId: input.recordingId, patientId: facts.patientId, details: { index: input.index, bytes: body.byteLength } });
    if (input.last) await audit({ action: auditActions.visit.recordingFinish, resourceId: input.recordingId, patientId: facts.patientId, details: { chunks: input.index + 1 } });
    return ok({ stored: input.index + 1, finished: input.last, visitId: facts.visitId });
  },
  afterCommit: ({ finished, visitId }) => {
    if (finished) announceRecording(visitId, 'finished');
  },
});

/** Tells the patient's screen that recording started or stopped (after the commit that made it so). */
function announceRecording(visitId: string, state: 'started' | 'finished'): void {
  deliver(visitId, 'patient', { type: 'recording', state });
}
