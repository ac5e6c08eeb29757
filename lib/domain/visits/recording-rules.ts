/**
 * What a recording chunk must be before the server seals it, as pure rules. A MediaRecorder in
 * the clinician's browser emits a chunk every few seconds; at the default size a chunk is well
 * under a megabyte, so the cap leaves room for a sharp camera while refusing a body nobody's
 * recorder produced.
 */
export const MAX_CHUNK_BYTES = 4 * 1024 * 1024;

/** How often the clinician's recorder cuts a chunk. */
export const RECORDER_TIMESLICE_MS = 2_000;

/** The container the portal records and plays: WebM, as every Chromium and Firefox records. */
export const RECORDING_MIME_TYPES = ['video/webm', 'video/webm;codecs=vp8,opus', 'video/webm;codecs=vp9,opus'] as const;

export type ChunkRefusal = 'not_recorder' | 'visit_ended' | 'recording_finished' | 'out_of_order' | 'duplicate' | 'too_large' | 'empty';

export interface ChunkState {
  recorderId: string;
  viewerId: string;
  visitEnded: boolean;
  finished: boolean;
  /** Chunks already stored: the only index accepted next. */
  stored: number;
}

/** Why a chunk with this index is refused before its body is read, or null. */
export function chunkRefusal(state: ChunkState, index: number): ChunkRefusal | null {
  if (state.viewerId !== state.recorderId) return 'not_recorder';
  if (state.visitEnded) return 'visit_ended';
  if (state.finished) return 'recording_finished';
  if (index < state.stored) return 'duplicate';
  if (index > state.stored) return 'out_of_order';
  return null;
}

/** Why a chunk body is refused, or null. Only the last chunk may be empty (a recorder stopped right after a cut). */
export function chunkBodyRefusal(bytes: number | null, last: boolean): ChunkRefusal | null {
  if (bytes === null || bytes > MAX_CHUNK_BYTES) return 'too_large';
  if (bytes === 0 && !last) return 'empty';
  return null;
}

/**
 * Where a chunk belongs, as the row id of its associated data: the recording and the index, and
 * on the last chunk the total. A chunk moved to another index or recording, or a recording cut
 * short and its count rewritten, no longer opens.
 */
export function chunkLocation(recordingId: string, index: number, total: number | null): string {
  return total === null ? `${recordingId}.${index}` : `${recordingId}.${index}.last-of.${total}`;
}

export const chunkMessages: Record<ChunkRefusal, string> = {
  not_recorder: 'Only the clinician recording this visit can add to the recording.',
  visit_ended: 'This visit has ended; the recording cannot be added to.',
  recording_finished: 'This recording is finished; nothing more can be added.',
  out_of_order: 'A part of the recording arrived out of order and was not stored.',
  duplicate: 'That part of the recording was already stored.',
  too_large: `A part of the recording was larger than ${MAX_CHUNK_BYTES / 1024 / 1024} MB and was not stored.`,
  empty: 'A part of the recording was empty and was not stored.',
};
