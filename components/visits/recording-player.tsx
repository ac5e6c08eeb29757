'use client';

import { useRef } from 'react';

/** Plays an opened playback from the portal (range requests), reporting how far it got. */
export function RecordingPlayer({ viewId, mimeType }: { viewId: string; mimeType: string }) {
  const reported = useRef(0);
  const report = (seconds: number, now = false) => {
    if (!now && seconds - reported.current < 2) return;
    reported.current = seconds;
    void fetch(`/api/visits/watched?view=${viewId}&seconds=${seconds.toFixed(1)}`, { method: 'POST' });
  };
  return (
    <video controls preload="metadata" data-testid="recording-video" className="aspect-video w-full rounded-lg bg-slate-900"
      onTimeUpdate={(event) => report(event.currentTarget.currentTime)}
      onPause={(event) => report(event.currentTarget.currentTime, true)}>
      <source src={`/api/visits/media?view=${viewId}`} type={mimeType.split(';')[0]} />
    </video>
  );
}
