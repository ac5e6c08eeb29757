import Link from 'next/link';
import { AccessDenied } from '@/components/chart/access-denied';
import { RecordingPlayer } from '@/components/visits/recording-player';
import { requireViewer } from '@/lib/features/auth/current';
import { asksToWatch, openPlayback, recordingViewers } from '@/lib/features/visits';

const when = (iso: string) => iso.slice(0, 16).replace('T', ' ');
const roleLabel = (roles: string) => roles.split(',').map((r) => r.replace(/_/g, ' ')).join(', ');

/** A visit recording: playback for those who may read the notes, and "Viewed by" for its recorder and privacy officers. */
export default async function RecordingPage({ params }: { params: Promise<{ id: string; recordingId: string }> }) {
  const viewer = await requireViewer();
  const { id, recordingId } = await params;
  // Watching first, so "Viewed by" includes this viewing; a privacy officer only reads the list.
  const playback = asksToWatch(viewer) ? await openPlayback(viewer, { recordingId }) : null;
  const viewers = await recordingViewers(viewer, { recordingId });
  if (!viewers.ok && (!playback || (!playback.ok && (playback.error === 'denied' || playback.error === 'break_glass_offered')))) {
    // Billing never asks to watch; the refusal is still recorded, against the patient.
    const refused = playback ?? (await openPlayback(viewer, { recordingId }));
    return <AccessDenied patientId={id} breakGlassOffered={!refused.ok && refused.error === 'break_glass_offered'} />;
  }
  return (
    <div className="space-y-4">
      <div className="flex items-baseline justify-between">
        <h1 className="text-xl font-semibold">Visit recording</h1>
        <Link href={`/patients/${id}`} className="text-sm text-calm hover:underline">← Back to the chart</Link>
      </div>
      {!playback ? null : playback.ok ? (
        <section className="space-y-2">
          <RecordingPlayer viewId={playback.value.viewId} mimeType={playback.value.mimeType} />
          <p className="text-xs text-slate-500">Recorded {when(playback.value.startedAt)} UTC · opened on the server for you; this viewing is recorded.</p>
        </section>
      ) : (
        <p role="alert" data-testid="playback-refused" className="rounded border border-red-200 bg-red-50 p-4 text-sm text-red-900">{playback.message}</p>
      )}
      {viewers.ok && (
        <section className="rounded-lg border border-slate-200 bg-white p-4" data-testid="viewed-by">
          <h2 className="text-sm font-semibold">Viewed by</h2>
          <table className="mt-2 w-full text-left text-sm">
            <thead className="text-xs text-slate-500"><tr><th>Who</th><th>Role</th><th>When (UTC)</th><th>How long</th></tr></thead>
            <tbody>
              {viewers.value.map((v, i) => (
                <tr key={i} className="border-t border-slate-100"><td>{v.who}</td><td className="capitalize">{roleLabel(v.role)}</td><td>{when(v.openedAt)}</td><td>{v.watchedSeconds} s</td></tr>
              ))}
              {viewers.value.length === 0 && <tr><td colSpan={4} className="text-slate-500">Nobody yet.</td></tr>}
            </tbody>
          </table>
        </section>
      )}
    </div>
  );
}
