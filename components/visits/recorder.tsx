'use client';

import Link from 'next/link';
import { useRef, useState } from 'react';

const PREFERRED_TYPES = ['video/webm;codecs=vp8,opus', 'video/webm;codecs=vp9,opus', 'video/webm'];

/**
 * Records the visit in this browser — the patient's video with both voices mixed — and uploads
 * each chunk as the recorder cuts it, in order, one at a time; the server seals it at once. The
 * button is there only once the patient has said yes, and the server checks that again.
 */
export function Recorder({ visitId, patientId, remote, local, allowed, timesliceMs }: {
  visitId: string;
  patientId: string;
  remote: MediaStream | null;
  local: MediaStream | null;
  allowed: boolean;
  timesliceMs: number;
}) {
  const recorder = useRef<MediaRecorder | null>(null);
  const [recordingId, setRecordingId] = useState<string | null>(null);
  const [state, setState] = useState<'idle' | 'recording' | 'saving' | 'saved' | 'failed'>('idle');
  const [message, setMessage] = useState<string | null>(null);

  const start = async () => {
    if (!remote) return;
    const type = PREFERRED_TYPES.find((t) => MediaRecorder.isTypeSupported(t)) ?? 'video/webm';
    const response = await fetch(`/api/visits/recording?visit=${visitId}&type=${encodeURIComponent(type)}`, { method: 'POST' });
    const answer = (await response.json()) as { recordingId?: string; error?: string };
    if (!response.ok || !answer.recordingId) {
      setMessage(answer.error ?? 'Recording could not start.');
      return;
    }
    const id = answer.recordingId;
    const audio = new AudioContext();
    const mix = audio.createMediaStreamDestination();
    for (const stream of [remote, local]) if (stream?.getAudioTracks().length) audio.createMediaStreamSource(stream).connect(mix);
    const media = new MediaRecorder(new MediaStream([...remote.getVideoTracks(), ...mix.stream.getAudioTracks()]), { mimeType: type });
    let index = 0;
    let uploads = Promise.resolve(true);
    const upload = (data: Blob, last: boolean) => {
      const at = index++;
      uploads = uploads.then(async (fine) => {
        if (!fine) return false;
        const sent = await fetch(`/api/visits/chunk?recording=${id}&index=${at}&last=${last ? 1 : 0}`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: data });
        if (!sent.ok) {
          setMessage(((await sent.json()) as { error?: string }).error ?? 'Part of the recording was not stored.');
          setState('failed');
          if (media.state !== 'inactive') media.stop();
          return false;
        }
        if (last) {
          setState('saved');
          void audio.close();
        }
        return true;
      });
    };
    // One chunk is held back until the next arrives, so that the one uploaded as last (binding the
    // total) is the recorder's final chunk: 'stop' fires only after the final dataavailable.
    let held: Blob | null = null;
    media.ondataavailable = (event) => {
      if (event.data.size === 0) return;
      if (held) upload(held, false);
      held = event.data;
    };
    media.onstop = () => upload(held ?? new Blob([]), true);
    media.start(timesliceMs);
    recorder.current = media;
    setRecordingId(id);
    setState('recording');
    setMessage(null);
  };

  const stop = () => {
    setState('saving');
    recorder.current?.stop();
  };

  return (
    <div className="mt-3 space-y-2">
      {state === 'idle' && (
        <button type="button" onClick={start} disabled={!allowed || !remote} data-testid="record-button" className="rounded-md bg-calm px-3 py-1.5 text-sm font-medium text-white disabled:opacity-50">Start recording</button>
      )}
      {state === 'recording' && (
        <button type="button" onClick={stop} data-testid="stop-button" className="rounded-md bg-red-700 px-3 py-1.5 text-sm font-medium text-white">● Stop recording</button>
      )}
      <p className="text-sm text-slate-600" data-testid="recording-state">
        {state === 'recording' ? 'Recording… each part is sealed as it arrives.' : state === 'saving' ? 'Saving the last part…' : state === 'saved' ? 'Recording saved and sealed.' : state === 'failed' ? 'Recording stopped.' : ''}
      </p>
      {state === 'saved' && recordingId && (
        <Link href={`/patients/${patientId}/recordings/${recordingId}`} className="text-sm text-calm hover:underline" data-testid="recording-link">Open the recording</Link>
      )}
      {message && <p role="alert" className="text-sm text-red-800">{message}</p>}
    </div>
  );
}
